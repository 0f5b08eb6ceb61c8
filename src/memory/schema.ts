/**
 * The memory index inside each AgentDO (one migration of AGENT_MIGRATIONS).
 * Rows are written in the commit's own transaction (index-rows.ts), so the
 * index never holds a record the repo lacks; vectors arrive later (indexer.ts).
 */
import type { Migration } from '../storage/migrations.ts'

export const MEMORY_INDEX_MIGRATION: readonly string[] = [
  `CREATE TABLE memory_index (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    rkey TEXT NOT NULL,
    cid TEXT NOT NULL,
    text TEXT NOT NULL,
    weight REAL NOT NULL,
    created_at INTEGER NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    fact_key TEXT,
    valid_until INTEGER,
    model TEXT,
    vector BLOB,
    qvector BLOB,
    qscale REAL,
    published TEXT,
    UNIQUE (collection, rkey)
  )`,
  'CREATE INDEX memory_index_model ON memory_index (model)',
  'CREATE INDEX memory_index_fact ON memory_index (fact_key) WHERE fact_key IS NOT NULL',
  // What network-publish.ts has to send or take back: small partial indexes, so finding it never scans every row.
  'CREATE INDEX memory_to_publish ON memory_index (id) WHERE shared = 1 AND (published IS NULL OR published != cid)',
  'CREATE INDEX memory_to_unpublish ON memory_index (id) WHERE shared = 0 AND published IS NOT NULL',
  // Keyword side of the hybrid search; rowid = memory_index.id.
  `CREATE VIRTUAL TABLE memory_fts USING fts5(text, tokenize = 'porter unicode61')`,
  // Shared memories deleted here that the network index still holds.
  'CREATE TABLE memory_unpublished (uri TEXT PRIMARY KEY)',
  // Index settings: the model the vectors were made with; retention per collection.
  'CREATE TABLE memory_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
]

/** The tables a memory index lives in: an agent's own, or the network's shared one. */
export interface IndexTables {
  rows: string
  fts: string
  /** SQL for the owning agent's DID in a row. */
  owner: string
}

export const AGENT_INDEX: IndexTables = { rows: 'memory_index', fts: 'memory_fts', owner: 'NULL' }
export const NETWORK_INDEX: IndexTables = { rows: 'network_memory', fts: 'network_fts', owner: 'did' }

/** The network-wide index of shared memories (NetworkMemoryDO), rows as in memory_index plus the owner. */
export const NETWORK_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE network_memory (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      did TEXT NOT NULL,
      collection TEXT NOT NULL,
      rkey TEXT NOT NULL,
      cid TEXT NOT NULL,
      text TEXT NOT NULL,
      weight REAL NOT NULL,
      created_at INTEGER NOT NULL,
      valid_until INTEGER,
      model TEXT NOT NULL,
      vector BLOB NOT NULL,
      qvector BLOB NOT NULL,
      qscale REAL NOT NULL,
      UNIQUE (did, collection, rkey)
    )`,
    'CREATE INDEX network_memory_model ON network_memory (model)',
    `CREATE VIRTUAL TABLE network_fts USING fts5(text, tokenize = 'porter unicode61')`,
  ],
]
