/**
 * An agent's schedules, as rows in its AgentDO's SQLite: a prompt text with
 * either a cron expression (cron.ts, UTC) or one `at` instant. `next_at` is
 * the next firing (ms); the alarm (schedule-alarm.ts) turns each due firing
 * into one queued turn and then advances the row:
 * - cron: to the first firing after now. Firings missed while the agent was
 *   idle or its alarm was late collapse into the one catch-up firing.
 * - at: to NULL. A one-shot schedule is kept, done, so a list still shows it
 *   and its turn; done ones make room (oldest first) when the cap is reached.
 */
import { isDatetime, parseDatetime } from '../atproto/syntax/datetime.ts'
import { invalidRequest } from '../http/xrpc.ts'
import { CronError, nextFiring } from './cron.ts'
import { newTurnId } from './turn-ids.ts'

/** Schedules per agent, done one-shots included. */
export const MAX_SCHEDULES = 100
/** Longest schedule text (as a prompt's). */
export const MAX_SCHEDULE_TEXT = 20_000
/** How far ahead an `at` may be. */
export const MAX_AT_AHEAD_MS = 366 * 24 * 3600_000

export interface ScheduleView {
  id: string
  text: string
  cron?: string
  at?: string
  /** The next firing; absent once a one-shot schedule has fired. */
  nextAt?: string
  created: string
  /** The turn of the latest firing (agent.runtime.getTurn). */
  lastTurn?: string
}

/** One call into the schedule table (the AgentDO's single `schedule` entry point). */
export type ScheduleCall =
  | { op: 'add'; text: string; cron?: string; at?: string }
  | { op: 'list' }
  | { op: 'delete'; id: string }

export type ScheduleReply = { schedule: ScheduleView } | { schedules: ScheduleView[] }

/** A firing due now: `nextAt` is the firing's own time, which names its turn's trigger. */
export interface DueSchedule {
  id: string
  text: string
  cron: string | null
  nextAt: number
}

type Row = {
  id: string
  text: string
  cron: string | null
  at: string | null
  next_at: number | null
  created: string
}

/** The trigger of one firing: a re-run of the same firing finds the same turn. */
export const firingTrigger = (id: string, at: number) => `${id}@${at}`

export class AgentSchedules {
  constructor(private readonly sql: SqlStorage) {}

  call(call: ScheduleCall, now = Date.now()): ScheduleReply {
    switch (call.op) {
      case 'add':
        return { schedule: this.add(call, now) }
      case 'list':
        return { schedules: this.list() }
      case 'delete':
        return { schedule: this.delete(call.id) }
    }
  }

  add(input: { text: string; cron?: string; at?: string }, now = Date.now()): ScheduleView {
    const text = typeof input.text === 'string' ? input.text.trim() : ''
    if (!text) throw invalidRequest('text is required')
    if (text.length > MAX_SCHEDULE_TEXT)
      throw invalidRequest(`text is at most ${MAX_SCHEDULE_TEXT} characters`)
    const { cron, at } = input
    if ((cron === undefined) === (at === undefined)) throw invalidRequest('Give exactly one of cron or at')
    let nextAt: number
    if (cron !== undefined) {
      try {
        nextAt = nextFiring(cron, now)
      } catch (err) {
        if (err instanceof CronError) throw invalidRequest(`Invalid cron "${cron}": ${err.message}`)
        throw err
      }
    } else {
      if (!isDatetime(at!))
        throw invalidRequest(`at must be an ISO 8601 datetime with a timezone, got "${at}"`)
      nextAt = parseDatetime(at!).getTime()
      if (nextAt <= now) throw invalidRequest('at must be in the future')
      if (nextAt > now + MAX_AT_AHEAD_MS) throw invalidRequest('at must be at most a year ahead')
    }
    if (this.count() >= MAX_SCHEDULES) {
      // Make room by dropping the oldest finished one-shot; live schedules are never dropped.
      this.sql.exec(
        'DELETE FROM schedules WHERE id = (SELECT id FROM schedules WHERE next_at IS NULL ORDER BY created, id LIMIT 1)',
      )
      if (this.count() >= MAX_SCHEDULES)
        throw invalidRequest(`An agent has at most ${MAX_SCHEDULES} schedules: delete one first`)
    }
    // A TID: ids sort by creation and cannot contain the trigger's `@`.
    const id = newTurnId()
    this.sql.exec(
      'INSERT INTO schedules (id, text, cron, at, next_at, created) VALUES (?, ?, ?, ?, ?, ?)',
      id,
      text,
      cron?.trim() ?? null,
      at === undefined ? null : new Date(nextAt).toISOString(),
      nextAt,
      new Date(now).toISOString(),
    )
    return this.view(this.row(id)!)
  }

  list(): ScheduleView[] {
    return this.sql
      .exec<Row>('SELECT id, text, cron, at, next_at, created FROM schedules ORDER BY created, id')
      .toArray()
      .map((r) => this.view(r))
  }

  delete(id: string): ScheduleView {
    const row = typeof id === 'string' ? this.row(id) : undefined
    if (!row) throw invalidRequest(`No schedule ${id}`)
    this.sql.exec('DELETE FROM schedules WHERE id = ?', id)
    return this.view(row)
  }

  /** Firings due at `now`, earliest first. */
  due(now: number): DueSchedule[] {
    return this.sql
      .exec<Row>(
        'SELECT id, text, cron, next_at FROM schedules WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at',
        now,
      )
      .toArray()
      .map((r) => ({ id: r.id, text: r.text, cron: r.cron, nextAt: r.next_at! }))
  }

  /** After a firing was queued: the next cron firing after `now`, or done. A row changed meanwhile is left alone. */
  advance(s: DueSchedule, now: number): void {
    let next: number | null = null
    try {
      if (s.cron !== null) next = nextFiring(s.cron, now)
    } catch {
      // A date that exists only rarely (Feb 29 on a Monday) beyond the search horizon: done.
    }
    this.sql.exec('UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?', next, s.id, s.nextAt)
  }

  /** The earliest pending firing, or null when nothing is pending. */
  nextAlarm(): number | null {
    return this.sql.exec<{ t: number | null }>('SELECT min(next_at) AS t FROM schedules').one().t
  }

  private count(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM schedules').one().n
  }

  private row(id: string): Row | undefined {
    return this.sql
      .exec<Row>('SELECT id, text, cron, at, next_at, created FROM schedules WHERE id = ?', id)
      .toArray()[0]
  }

  private view(r: Row): ScheduleView {
    // Triggers are `id@ms`: the range [`id@`, `idA`) is this schedule's firings, newest last by time.
    const last = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM turns WHERE trigger >= ? AND trigger < ?
         ORDER BY CAST(substr(trigger, ?) AS INTEGER) DESC LIMIT 1`,
        `${r.id}@`,
        `${r.id}A`,
        r.id.length + 2,
      )
      .toArray()[0]
    return {
      id: r.id,
      text: r.text,
      ...(r.cron !== null ? { cron: r.cron } : {}),
      ...(r.at !== null ? { at: r.at } : {}),
      ...(r.next_at !== null ? { nextAt: new Date(r.next_at).toISOString() } : {}),
      created: r.created,
      ...(last ? { lastTurn: last.id } : {}),
    }
  }
}
