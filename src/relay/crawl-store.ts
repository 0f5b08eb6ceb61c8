/**
 * A crawler's storage (Durable Object SQLite, one object per upstream host):
 * the host and the upstream seq processed so far, what is known of each repo
 * the host serves (upstream.ts `RepoState`), and the outbox of verified
 * events waiting for the relay. All calls are synchronous; the crawler runs
 * each batch's changes in one transaction, so the cursor never runs ahead of
 * the events it covers.
 */
import type { OutboxRows } from '../pds/outbox.ts'
import type { Migration } from '../storage/migrations.ts'
import type { IngestEvent } from './sequencer.ts'
import type { RepoState } from './upstream.ts'

export const CRAWL_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE host (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      hostname TEXT NOT NULL,
      cursor INTEGER NOT NULL,
      status TEXT NOT NULL,
      events INTEGER NOT NULL,
      requested_at TEXT NOT NULL
    )`,
    `CREATE TABLE repos (
      did TEXT PRIMARY KEY,
      rev TEXT,
      data TEXT,
      status TEXT NOT NULL,
      event_rev TEXT
    ) WITHOUT ROWID`,
    `CREATE TABLE outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      did TEXT NOT NULL,
      rev TEXT NOT NULL,
      kind TEXT NOT NULL,
      event BLOB NOT NULL
    )`,
  ],
]

/** `active`: following the host; `stopped`: the operator ended it. */
export type HostStatus = 'active' | 'stopped'

export interface HostRow {
  hostname: string
  /** The newest upstream seq whose events are stored. */
  cursor: number
  status: HostStatus
  /** Upstream events taken in (after verification). */
  events: number
}

/** Repo states kept in memory; past this the cache starts over. */
const MAX_CACHED_REPOS = 50_000

/**
 * The host row and repo states are cached in memory (a lookup per frame
 * otherwise); this object is their only writer. After a failed transaction
 * the caller calls `forgetCache`.
 */
export class CrawlStore {
  private hostRow: HostRow | null | undefined
  private readonly repos = new Map<string, RepoState | null>()

  constructor(private readonly sql: SqlStorage) {}

  forgetCache(): void {
    this.hostRow = undefined
    this.repos.clear()
  }

  host(): HostRow | null {
    if (this.hostRow === undefined)
      this.hostRow =
        this.sql
          .exec<{ hostname: string; cursor: number; status: HostStatus; events: number }>(
            'SELECT hostname, cursor, status, events FROM host WHERE id = 1',
          )
          .toArray()[0] ?? null
    return this.hostRow
  }

  /** Follow `hostname` (from cursor 0 the first time; keeps the cursor on a repeat request). */
  follow(hostname: string): void {
    this.sql.exec(
      `INSERT INTO host (id, hostname, cursor, status, events, requested_at) VALUES (1, ?, 0, 'active', 0, ?)
       ON CONFLICT (id) DO UPDATE SET status = 'active', requested_at = excluded.requested_at`,
      hostname,
      new Date().toISOString(),
    )
    this.hostRow = undefined
  }

  setCursor(cursor: number, events: number): void {
    this.sql.exec('UPDATE host SET cursor = ?, events = events + ? WHERE id = 1', cursor, events)
    if (this.hostRow) this.hostRow = { ...this.hostRow, cursor, events: this.hostRow.events + events }
  }

  repo(did: string): RepoState | null {
    const cached = this.repos.get(did)
    if (cached !== undefined) return cached
    const state = this.loadRepo(did)
    this.cache(did, state)
    return state
  }

  private cache(did: string, state: RepoState | null): void {
    if (this.repos.size >= MAX_CACHED_REPOS) this.repos.clear()
    this.repos.set(did, state)
  }

  private loadRepo(did: string): RepoState | null {
    const r = this.sql
      .exec<{
        did: string
        rev: string | null
        data: string | null
        status: string
        event_rev: string | null
      }>('SELECT did, rev, data, status, event_rev FROM repos WHERE did = ?', did)
      .toArray()[0]
    return r ? { did: r.did, rev: r.rev, data: r.data, status: r.status, eventRev: r.event_rev } : null
  }

  putRepo(s: RepoState): void {
    this.sql.exec(
      `INSERT INTO repos (did, rev, data, status, event_rev) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (did) DO UPDATE SET rev = excluded.rev, data = excluded.data,
         status = excluded.status, event_rev = excluded.event_rev`,
      s.did,
      s.rev,
      s.data,
      s.status,
      s.eventRev,
    )
    this.cache(s.did, s)
  }

  /** How many repos the host serves, as far as seen, and how many are desynchronized. */
  repoCounts(): { repos: number; desynchronized: number } {
    return this.sql
      .exec<{ repos: number; desynchronized: number }>(
        `SELECT count(*) AS repos, coalesce(sum(status = 'desynchronized'), 0) AS desynchronized FROM repos`,
      )
      .one()
  }

  queue(e: IngestEvent): void {
    this.sql.exec(
      'INSERT INTO outbox (did, rev, kind, event) VALUES (?, ?, ?, ?)',
      e.did,
      e.rev,
      e.kind,
      e.body,
    )
  }

  /** The outbox, as the relay push (pds/outbox.ts) reads it. */
  outboxRows(): OutboxRows {
    const sql = this.sql
    return {
      read: (limit) =>
        sql
          .exec<{ id: number; did: string; rev: string; kind: string; event: ArrayBuffer }>(
            'SELECT id, did, rev, kind, event FROM outbox ORDER BY id LIMIT ?',
            limit,
          )
          .toArray()
          .map((r) => ({
            id: r.id,
            event: { did: r.did, rev: r.rev, kind: r.kind, body: new Uint8Array(r.event) },
          })),
      remove(ids) {
        for (const id of ids) sql.exec('DELETE FROM outbox WHERE id = ?', id)
      },
      count: () => sql.exec<{ n: number }>('SELECT count(*) AS n FROM outbox').one().n,
    }
  }
}
