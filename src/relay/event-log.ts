/**
 * The relay's event log in Durable Object SQLite: one row per sequenced event,
 * holding the finished frame (encoded once), plus each repo's high-water mark
 * (the last rev sequenced per DID and kind) for de-duplication that outlives
 * pruning. All calls are synchronous; callers own the transactions.
 */
import type { Migration } from '../storage/migrations.ts'

export const RELAY_MIGRATIONS: readonly Migration[] = [
  [
    // The sequence counter: it never goes back, even when every event has been pruned.
    `CREATE TABLE relay_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      last_seq INTEGER NOT NULL,
      last_time INTEGER NOT NULL
    )`,
    'INSERT INTO relay_state (id, last_seq, last_time) VALUES (1, 0, 0)',
    // seq is gap-free; time (ms, never decreasing along seq) drives time-based retention.
    `CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      did TEXT NOT NULL,
      kind TEXT NOT NULL,
      rev TEXT NOT NULL,
      time INTEGER NOT NULL,
      frame BLOB NOT NULL
    )`,
    `CREATE TABLE repo_revs (
      did TEXT NOT NULL,
      kind TEXT NOT NULL,
      rev TEXT NOT NULL,
      PRIMARY KEY (did, kind)
    ) WITHOUT ROWID`,
  ],
]

/** A sequenced event as the fan-out sends it. */
export interface StoredEvent {
  seq: number
  frame: Uint8Array
}

export interface NewEvent extends StoredEvent {
  did: string
  kind: string
  rev: string
  time: number
}

export class EventLog {
  constructor(private readonly sql: SqlStorage) {}

  state(): { lastSeq: number; lastTime: number } {
    const row = this.sql
      .exec<{ last_seq: number; last_time: number }>(
        'SELECT last_seq, last_time FROM relay_state WHERE id = 1',
      )
      .one()
    return { lastSeq: row.last_seq, lastTime: row.last_time }
  }

  setState(lastSeq: number, lastTime: number): void {
    this.sql.exec('UPDATE relay_state SET last_seq = ?, last_time = ? WHERE id = 1', lastSeq, lastTime)
  }

  append(e: NewEvent): void {
    this.sql.exec(
      'INSERT INTO events (seq, did, kind, rev, time, frame) VALUES (?, ?, ?, ?, ?, ?)',
      e.seq,
      e.did,
      e.kind,
      e.rev,
      e.time,
      e.frame,
    )
  }

  lastRev(did: string, kind: string): string | undefined {
    return this.sql
      .exec<{ rev: string }>('SELECT rev FROM repo_revs WHERE did = ? AND kind = ?', did, kind)
      .toArray()[0]?.rev
  }

  setLastRev(did: string, kind: string, rev: string): void {
    this.sql.exec('INSERT OR REPLACE INTO repo_revs (did, kind, rev) VALUES (?, ?, ?)', did, kind, rev)
  }

  /** Events with seq > `after`, oldest first. */
  page(after: number, limit: number): StoredEvent[] {
    return this.sql
      .exec<{ seq: number; frame: ArrayBuffer }>(
        'SELECT seq, frame FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
        after,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, frame: new Uint8Array(r.frame) }))
  }

  /** The oldest retained event, or null when the log is empty. */
  oldest(): { seq: number; time: number } | null {
    return (
      this.sql
        .exec<{ seq: number; time: number }>('SELECT seq, time FROM events ORDER BY seq LIMIT 1')
        .toArray()[0] ?? null
    )
  }

  /**
   * Delete from the front of the log, at most `chunk` rows: events older than
   * `beforeTime` or with seq below `keepFromSeq`. Both conditions hold for a
   * prefix of the log (seq and time only grow), so this never opens a hole.
   */
  pruneChunk(beforeTime: number, keepFromSeq: number, chunk: number): number {
    const oldest = this.oldest()
    if (!oldest) return 0
    return this.sql
      .exec(
        'DELETE FROM events WHERE seq < ? AND (seq < ? OR time < ?) RETURNING seq',
        oldest.seq + chunk,
        keepFromSeq,
        beforeTime,
      )
      .toArray().length
  }
}
