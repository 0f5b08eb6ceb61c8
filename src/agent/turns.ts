/**
 * An agent's turns, as rows in its AgentDO's SQLite. The Queue message that runs
 * a turn is gone once acked or dropped; this row is what stays visible:
 * queued → running → done (with the note it wrote) or failed (with why).
 */
import { XrpcError } from '../http/xrpc.ts'

export type TurnState = 'queued' | 'running' | 'done' | 'failed'

/** What started a turn. */
export type TurnSource = 'prompt' | 'inbox' | 'schedule'

export interface TurnView {
  id: string
  source: TurnSource
  state: TurnState
  attempts: number
  error?: string
  note?: string
}

export interface TurnRow extends TurnView {
  text: string
  /** The inbox item's uri, or `schedule id@firing time`: one turn per trigger. */
  trigger?: string
}

/** One call into the turn table (the AgentDO's single `turn` entry point). */
export type TurnCall =
  /**
   * A new queued turn. With a `trigger` already seen, nothing is created and
   * the earlier turn is returned (compare its id to know).
   */
  | { op: 'create'; id: string; text: string; source?: TurnSource; trigger?: string }
  | { op: 'get'; id: string }
  /** A consumer picked the turn up for this attempt. */
  | { op: 'start'; id: string; attempts: number }
  /** The attempt ended: done with a note, queued again (a retry follows), or failed for good. */
  | { op: 'finish'; id: string; state: 'queued' | 'done' | 'failed'; error?: string; note?: string }

type Row = {
  id: string
  text: string
  source: TurnSource
  trigger: string | null
  state: TurnState
  attempts: number
  error: string | null
  note_uri: string | null
}

/** Longest error text kept: a provider's message can be a whole HTML page. */
const MAX_ERROR = 1000

export class AgentTurns {
  constructor(private readonly sql: SqlStorage) {}

  call(call: TurnCall): TurnRow {
    const now = new Date().toISOString()
    switch (call.op) {
      case 'create': {
        const earlier = call.trigger ? this.byTrigger(call.trigger) : null
        if (earlier) return earlier
        // A repeated create (a client retrying its request with the same id) keeps the first row.
        this.sql.exec(
          `INSERT INTO turns (id, text, source, trigger, state, attempts, created, updated)
           VALUES (?, ?, ?, ?, 'queued', 0, ?, ?) ON CONFLICT (id) DO NOTHING`,
          call.id,
          call.text,
          call.source ?? 'prompt',
          call.trigger ?? null,
          now,
          now,
        )
        break
      }
      case 'get':
        break
      case 'start':
        // A finished turn stays finished: a redelivered message must not reopen it. A start from
        // `queued` counts, so a turn re-sent by the sweep (its message attempts restart at 1) still
        // ends; a duplicate message starting it while it runs does not.
        this.sql.exec(
          `UPDATE turns SET state = 'running', updated = ?,
             attempts = CASE WHEN state = 'running' THEN max(attempts, ?) ELSE max(attempts + 1, ?) END
           WHERE id = ? AND state IN ('queued', 'running')`,
          now,
          call.attempts,
          call.attempts,
          call.id,
        )
        break
      case 'finish':
        this.sql.exec(
          `UPDATE turns SET state = ?, error = ?, note_uri = coalesce(?, note_uri), updated = ?
           WHERE id = ? AND state IN ('queued', 'running')`,
          call.state,
          call.error?.slice(0, MAX_ERROR) ?? null,
          call.note ?? null,
          now,
          call.id,
        )
        break
    }
    return this.row(call.id)
  }

  /** Turns neither done nor failed whose row has not moved since `before` (ms), oldest first. */
  stale(before: number, limit: number): TurnRow[] {
    const ids = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM turns WHERE state IN ('queued', 'running') AND updated < ? ORDER BY updated LIMIT ?`,
        new Date(before).toISOString(),
        limit,
      )
      .toArray()
    return ids.map((r) => this.row(r.id))
  }

  /** When the oldest unfinished turn last moved (ms), or null when every turn is finished. */
  oldestUnfinished(): number | null {
    const r = this.sql
      .exec<{ updated: string | null }>(
        `SELECT min(updated) AS updated FROM turns WHERE state IN ('queued', 'running')`,
      )
      .one()
    return r.updated ? Date.parse(r.updated) : null
  }

  /** Mark a turn sent again: queued, its clock restarted (its attempts stay counted). */
  requeued(id: string): void {
    this.sql.exec(
      `UPDATE turns SET state = 'queued', updated = ? WHERE id = ? AND state IN ('queued', 'running')`,
      new Date().toISOString(),
      id,
    )
  }

  /** The turn a trigger started, if any. */
  byTrigger(trigger: string): TurnRow | null {
    const hit = this.sql.exec<{ id: string }>('SELECT id FROM turns WHERE trigger = ?', trigger).toArray()[0]
    return hit ? this.row(hit.id) : null
  }

  /** How many inbox turns were created in the last `ms`. */
  recentInboxTurns(ms: number): number {
    const since = new Date(Date.now() - ms).toISOString()
    return this.sql
      .exec<{ n: number }>(`SELECT count(*) AS n FROM turns WHERE source = 'inbox' AND created > ?`, since)
      .one().n
  }

  private row(id: string): TurnRow {
    const r = this.sql
      .exec<Row & Record<string, SqlStorageValue>>(
        'SELECT id, text, source, trigger, state, attempts, error, note_uri FROM turns WHERE id = ?',
        id,
      )
      .toArray()[0]
    if (!r) throw new XrpcError(400, 'TurnNotFound', `No turn ${id}`)
    return {
      id: r.id,
      text: r.text,
      source: r.source,
      ...(r.trigger ? { trigger: r.trigger } : {}),
      state: r.state,
      attempts: r.attempts,
      ...(r.error ? { error: r.error } : {}),
      ...(r.note_uri ? { note: r.note_uri } : {}),
    }
  }
}
