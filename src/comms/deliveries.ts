/**
 * The router's storage (Durable Object SQLite): its cursor on the relay's
 * event log, and one row per (recipient, record) to deliver. A row is the
 * durable record of a delivery; the Queue only carries it. Rows move
 * pending → delivered | dead | expired; a pending row is sent again until the
 * consumer settles it, so a restart that loses in-flight Queue messages loses
 * no delivery.
 */
import type { Migration } from '../storage/migrations.ts'
import { TASK_MIGRATION } from './tasks.ts'
import { TOPIC_MIGRATION } from './topics.ts'

export const ROUTER_MIGRATIONS: readonly Migration[] = [
  [
    'CREATE TABLE router_state (id INTEGER PRIMARY KEY CHECK (id = 1), cursor INTEGER NOT NULL)',
    'INSERT INTO router_state (id, cursor) VALUES (1, 0)',
    `CREATE TABLE deliveries (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      recipient TEXT NOT NULL,
      uri TEXT NOT NULL,
      cid TEXT NOT NULL,
      sender TEXT NOT NULL,
      collection TEXT NOT NULL,
      expires_at INTEGER,
      state TEXT NOT NULL,
      reason TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER,
      settled_at INTEGER,
      UNIQUE (recipient, uri, cid)
    )`,
    'CREATE INDEX deliveries_pending ON deliveries (state, sent_at)',
  ],
  // 2: the task index (tasks.ts), kept in the same transaction as the cursor.
  TASK_MIGRATION,
  // 3: topic subscriptions (topics.ts).
  TOPIC_MIGRATION,
]

/** What a Queue message carries: everything the consumer needs to deliver. */
export interface Delivery {
  id: number
  recipient: string
  uri: string
  cid: string
  sender: string
  collection: string
  expiresAt: number | null
}

export type Settlement = { state: 'delivered' } | { state: 'dead' | 'expired'; reason: string }

export interface DeadLetter {
  id: number
  recipient: string
  uri: string
  cid: string
  collection: string
  reason: string
  createdAt: string
  settledAt: string
}

type Row = {
  id: number
  recipient: string
  uri: string
  cid: string
  sender: string
  collection: string
  expires_at: number | null
}

export class DeliveryStore {
  constructor(private readonly sql: SqlStorage) {}

  cursor(): number {
    return this.sql.exec<{ cursor: number }>('SELECT cursor FROM router_state WHERE id = 1').one().cursor
  }

  setCursor(cursor: number): void {
    this.sql.exec('UPDATE router_state SET cursor = ? WHERE id = 1', cursor)
  }

  /** A new delivery; a repeat of the same (recipient, uri, cid) is ignored. */
  add(d: Omit<Delivery, 'id'>, now: number): void {
    this.sql.exec(
      `INSERT OR IGNORE INTO deliveries (recipient, uri, cid, sender, collection, expires_at, state, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
      d.recipient,
      d.uri,
      d.cid,
      d.sender,
      d.collection,
      d.expiresAt,
      now,
    )
  }

  /** Pending deliveries never sent, or sent before `resendBefore` and not settled since. */
  due(resendBefore: number, limit: number): Delivery[] {
    return this.sql
      .exec<Row>(
        `SELECT id, recipient, uri, cid, sender, collection, expires_at FROM deliveries
         WHERE state = 'pending' AND (sent_at IS NULL OR sent_at < ?) ORDER BY id LIMIT ?`,
        resendBefore,
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        recipient: r.recipient,
        uri: r.uri,
        cid: r.cid,
        sender: r.sender,
        collection: r.collection,
        expiresAt: r.expires_at,
      }))
  }

  markSent(ids: number[], now: number): void {
    for (const id of ids) this.sql.exec('UPDATE deliveries SET sent_at = ? WHERE id = ?', now, id)
  }

  pendingCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM deliveries WHERE state = 'pending'").one()
      .n
  }

  /** Settle a pending delivery; settling twice (a redelivered message) changes nothing. */
  settle(id: number, s: Settlement, now: number): void {
    this.sql.exec(
      "UPDATE deliveries SET state = ?, reason = ?, settled_at = ? WHERE id = ? AND state = 'pending'",
      s.state,
      s.state === 'delivered' ? null : s.reason,
      now,
      id,
    )
  }

  deadLetters(limit: number, after = 0): DeadLetter[] {
    return this.sql
      .exec<Row & { reason: string; created_at: number; settled_at: number }>(
        `SELECT id, recipient, uri, cid, sender, collection, expires_at, reason, created_at, settled_at
         FROM deliveries WHERE state = 'dead' AND id > ? ORDER BY id LIMIT ?`,
        after,
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        recipient: r.recipient,
        uri: r.uri,
        cid: r.cid,
        collection: r.collection,
        reason: r.reason,
        createdAt: new Date(r.created_at).toISOString(),
        settledAt: new Date(r.settled_at).toISOString(),
      }))
  }
}
