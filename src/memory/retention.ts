/**
 * Retention for notes: those older than `maxAgeDays`, or beyond the newest
 * `maxCount`, are rolled into an agent.memory.summary and deleted, a chunk at
 * a time. Each step is ONE commit (the summary's create and the notes'
 * deletes together), so a step either happened or did not: a crash mid-way
 * leaves nothing half done, and running again simply takes the next chunk.
 * Decisions and facts are kept; a superseded fact stays with its validUntil.
 */
import { invalidRequest } from '../http/xrpc.ts'
import { NOTE } from './memory-text.ts'

export interface RetentionPolicy {
  /** Notes made longer ago than this are rolled up. */
  maxAgeDays?: number
  /** Beyond this many notes, the oldest are rolled up. */
  maxCount?: number
}

/** Notes per summary: one commit of a summary and this many deletes stays within 200 writes. */
export const CHUNK = 100
// No age limit by default: an imported or backdated note is not rolled up the moment it lands.
export const DEFAULT_NOTE_POLICY: RetentionPolicy = { maxCount: 10_000 }
const DAY_MS = 24 * 3600 * 1000

export function parsePolicy(raw: unknown): RetentionPolicy {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw invalidRequest('policy must be an object')
  const r = raw as Record<string, unknown>
  const out: RetentionPolicy = {}
  for (const key of ['maxAgeDays', 'maxCount'] as const) {
    const v = r[key]
    if (v === undefined || v === null) continue
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1_000_000_000)
      throw invalidRequest(`${key} must be a whole number ≥ 0`)
    out[key] = v
  }
  return out
}

export function readPolicy(sql: SqlStorage): RetentionPolicy {
  const row = sql
    .exec<{ value: string }>("SELECT value FROM memory_settings WHERE key = 'retention:note'")
    .toArray()[0]
  return row ? (JSON.parse(row.value) as RetentionPolicy) : DEFAULT_NOTE_POLICY
}

export function writePolicy(sql: SqlStorage, policy: RetentionPolicy): void {
  sql.exec(
    "INSERT OR REPLACE INTO memory_settings (key, value) VALUES ('retention:note', ?)",
    JSON.stringify(policy),
  )
}

export interface DueNote {
  rkey: string
  cid: string
  createdAt: number
}

/**
 * The next chunk to roll up: the oldest notes (in record-key order, which is
 * the order they were written) while each one is due. Stopping at the first
 * note not due keeps each summary's from–to range exact: no note inside a
 * covered range is left standing.
 */
export function dueNotes(sql: SqlStorage, policy: RetentionPolicy, now: number): DueNote[] {
  const total = sql
    .exec<{ n: number }>('SELECT count(*) AS n FROM memory_index WHERE collection = ?', NOTE)
    .one().n
  const over = policy.maxCount === undefined ? 0 : Math.max(0, total - policy.maxCount)
  const cutoff = policy.maxAgeDays === undefined ? Number.NEGATIVE_INFINITY : now - policy.maxAgeDays * DAY_MS
  const oldest = sql
    .exec<{ rkey: string; cid: string; created_at: number }>(
      'SELECT rkey, cid, created_at FROM memory_index WHERE collection = ? ORDER BY rkey LIMIT ?',
      NOTE,
      CHUNK,
    )
    .toArray()
  const due: DueNote[] = []
  for (const [i, r] of oldest.entries()) {
    if (i >= over && r.created_at >= cutoff) break
    due.push({ rkey: r.rkey, cid: r.cid, createdAt: r.created_at })
  }
  return due
}

/**
 * When the next note falls due by age (ms), if the policy has an age limit and
 * a note exists: the first note in key order, since a step never skips past it.
 */
export function nextDueAt(sql: SqlStorage, policy: RetentionPolicy): number | null {
  if (policy.maxAgeDays === undefined) return null
  const first = sql
    .exec<{ created_at: number }>(
      'SELECT created_at FROM memory_index WHERE collection = ? ORDER BY rkey LIMIT 1',
      NOTE,
    )
    .toArray()[0]
  return first ? first.created_at + policy.maxAgeDays * DAY_MS : null
}
