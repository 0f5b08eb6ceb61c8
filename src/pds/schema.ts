/** The AgentDO's SQLite schema, as versioned migrations. */
import { MEMORY_INDEX_MIGRATION } from '../memory/schema.ts'
import type { Migration } from '../storage/migrations.ts'

/** The agent's one row, written in its genesis transaction. */
export function insertAgentRow(
  sql: SqlStorage,
  agent: { did: string; handle: string; keyType: string },
  sealedKey: Uint8Array,
  passwordHash: string | null,
  rootCid: string,
  rev: string,
): void {
  sql.exec(
    `INSERT INTO agent (id, did, handle, key_type, signing_key, password_hash, root_cid, rev, created_at)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`,
    agent.did,
    agent.handle,
    agent.keyType,
    sealedKey,
    passwordHash,
    rootCid,
    rev,
    new Date().toISOString(),
  )
}

export const AGENT_MIGRATIONS: readonly Migration[] = [
  [
    // One row: who this agent is and where its repo stands.
    `CREATE TABLE agent (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      did TEXT NOT NULL,
      handle TEXT NOT NULL,
      key_type TEXT NOT NULL,
      signing_key BLOB NOT NULL,
      password_hash TEXT,
      status TEXT NOT NULL DEFAULT 'active',
      root_cid TEXT,
      rev TEXT,
      created_at TEXT NOT NULL
    )`,
    'CREATE TABLE blocks (cid TEXT PRIMARY KEY, bytes BLOB NOT NULL, rev TEXT NOT NULL)',
    'CREATE INDEX blocks_rev ON blocks (rev)',
    `CREATE TABLE records (
      collection TEXT NOT NULL,
      rkey TEXT NOT NULL,
      cid TEXT NOT NULL,
      rev TEXT NOT NULL,
      PRIMARY KEY (collection, rkey)
    )`,
    // Commit events waiting for the relay's acknowledgement (written in the commit's transaction).
    `CREATE TABLE outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      rev TEXT NOT NULL,
      kind TEXT NOT NULL,
      event BLOB NOT NULL,
      created_at TEXT NOT NULL
    )`,
    `CREATE TABLE sessions (
      id TEXT PRIMARY KEY,
      refresh_jti TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    )`,
    `CREATE TABLE blobs (
      cid TEXT PRIMARY KEY,
      mime_type TEXT NOT NULL,
      size INTEGER NOT NULL,
      created_at TEXT NOT NULL
    )`,
    // Which records reference which blobs, so listBlobs and deletes stay exact.
    'CREATE TABLE record_blobs (blob_cid TEXT NOT NULL, record_uri TEXT NOT NULL, PRIMARY KEY (blob_cid, record_uri))',
  ],
  // The write path asks whether a removed block is still some record's: without this, a table scan per block.
  ['CREATE INDEX records_cid ON records (cid)'],
  // The newest rev queued to the outbox, of any kind: identity and account events take a rev after
  // it, so a restart with the wall clock behind cannot give them a rev the relay takes for a re-send.
  // Seeded from the head and any rows still queued (an identity or account event already delivered
  // before this migration left no local trace; the clock was all it had).
  [
    'ALTER TABLE agent ADD COLUMN event_rev TEXT',
    'UPDATE agent SET event_rev = max(rev, coalesce((SELECT max(rev) FROM outbox), rev))',
  ],
  // The agent's inbox (src/comms/inbox.ts): verified comms records other agents addressed to it.
  // One row per (uri, cid): a delivery that arrives twice lands once.
  [
    `CREATE TABLE inbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      uri TEXT NOT NULL,
      cid TEXT NOT NULL,
      collection TEXT NOT NULL,
      sender TEXT NOT NULL,
      record TEXT NOT NULL,
      received_at TEXT NOT NULL,
      read INTEGER NOT NULL DEFAULT 0,
      UNIQUE (uri, cid)
    )`,
    'CREATE INDEX inbox_collection ON inbox (collection, id)',
  ],
  // Handoffs this agent rejected (src/comms/handoff-rejections.ts): one row per (uri, cid), written in
  // the transaction of the rejecting response's commit, so a redelivered handoff is answered once.
  [
    `CREATE TABLE handoff_rejections (
      uri TEXT NOT NULL,
      cid TEXT NOT NULL,
      sender TEXT NOT NULL,
      code TEXT NOT NULL,
      reason TEXT NOT NULL,
      response_uri TEXT NOT NULL,
      rejected_at TEXT NOT NULL,
      PRIMARY KEY (uri, cid)
    )`,
  ],
  // The memory index (src/memory/schema.ts).
  MEMORY_INDEX_MIGRATION,
  // The agent's turns (src/agent/turns.ts): one row per prompt, so a turn's progress and failure
  // are visible after the Queue message that ran it is gone.
  [
    `CREATE TABLE turns (
      id TEXT PRIMARY KEY,
      text TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      note_uri TEXT,
      created TEXT NOT NULL,
      updated TEXT NOT NULL
    )`,
  ],
  // What started a turn (src/agent/wake.ts): an operator prompt, an inbox item or a schedule's
  // firing. `trigger` is unique, so an inbox item redelivered or a firing re-run makes one turn.
  // Schedules (src/agent/schedules.ts) only enqueue turns, from the alarm.
  [
    `ALTER TABLE turns ADD COLUMN source TEXT NOT NULL DEFAULT 'prompt'`,
    'ALTER TABLE turns ADD COLUMN trigger TEXT',
    'CREATE UNIQUE INDEX turns_trigger ON turns (trigger) WHERE trigger IS NOT NULL',
    'CREATE INDEX turns_source_created ON turns (source, created)',
    // Unfinished turns, for the sweep that re-queues a turn whose Queue message was lost (turn-sweep.ts).
    `CREATE INDEX turns_unfinished ON turns (updated) WHERE state IN ('queued', 'running')`,
    `CREATE TABLE schedules (
      id TEXT PRIMARY KEY,
      text TEXT NOT NULL,
      cron TEXT,
      at TEXT,
      next_at INTEGER,
      created TEXT NOT NULL
    )`,
    'CREATE INDEX schedules_due ON schedules (next_at) WHERE next_at IS NOT NULL',
  ],
]
