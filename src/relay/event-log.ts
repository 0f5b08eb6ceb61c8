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
  [
    // Jetstream (jetstream.ts): a strictly increasing unix-µs time per event, so a µs cursor maps
    // to a seq, and each event's JSON messages, rendered once at sequencing (NULL before this).
    'ALTER TABLE events ADD COLUMN time_us INTEGER',
    'ALTER TABLE events ADD COLUMN jet TEXT',
    'UPDATE events SET time_us = time * 1000 + (seq - (SELECT min(seq) FROM events))',
    'CREATE INDEX events_time_us ON events (time_us)',
    'ALTER TABLE relay_state ADD COLUMN last_time_us INTEGER NOT NULL DEFAULT 0',
    `UPDATE relay_state SET last_time_us =
      max(last_time * 1000, coalesce((SELECT max(time_us) FROM events), 0))`,
  ],
  [
    // Jetstream filters too large for a socket attachment (16 KiB), referenced from it by id.
    'CREATE TABLE jetstream_filters (id INTEGER PRIMARY KEY AUTOINCREMENT, options TEXT NOT NULL)',
  ],
]

/** A sequenced event as the fan-out sends it. */
export interface StoredEvent {
  seq: number
  frame: Uint8Array
  did?: string
  /** The Jetstream messages, packed (jetstream.ts); null for events sequenced before they existed. */
  jet?: string | null
}

export interface NewEvent extends StoredEvent {
  did: string
  kind: string
  rev: string
  /** Unix ms, never decreasing along seq (retention). */
  time: number
  /** Unix µs, strictly increasing along seq (Jetstream cursors). */
  timeUs: number
}

export interface LogState {
  lastSeq: number
  lastTime: number
  lastTimeUs: number
}

export class EventLog {
  constructor(private readonly sql: SqlStorage) {}

  state(): LogState {
    const row = this.sql
      .exec<{ last_seq: number; last_time: number; last_time_us: number }>(
        'SELECT last_seq, last_time, last_time_us FROM relay_state WHERE id = 1',
      )
      .one()
    return { lastSeq: row.last_seq, lastTime: row.last_time, lastTimeUs: row.last_time_us }
  }

  setState(s: LogState): void {
    this.sql.exec(
      'UPDATE relay_state SET last_seq = ?, last_time = ?, last_time_us = ? WHERE id = 1',
      s.lastSeq,
      s.lastTime,
      s.lastTimeUs,
    )
  }

  append(e: NewEvent): void {
    this.sql.exec(
      'INSERT INTO events (seq, did, kind, rev, time, time_us, frame, jet) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      e.seq,
      e.did,
      e.kind,
      e.rev,
      e.time,
      e.timeUs,
      e.frame,
      e.jet ?? null,
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
      .exec<{ seq: number; frame: ArrayBuffer; did: string; jet: string | null }>(
        'SELECT seq, frame, did, jet FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
        after,
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, frame: new Uint8Array(r.frame), did: r.did, jet: r.jet }))
  }

  /** The newest seq whose time_us is at or before `timeUs` (null: none retained is). */
  seqAtOrBefore(timeUs: number): number | null {
    return (
      this.sql
        .exec<{ seq: number }>(
          'SELECT seq FROM events WHERE time_us <= ? ORDER BY time_us DESC LIMIT 1',
          timeUs,
        )
        .toArray()[0]?.seq ?? null
    )
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
