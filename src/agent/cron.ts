/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), in
 * UTC, as Vixie cron reads them: `*`, lists, ranges, steps (`*\/15`, `1-5/2`,
 * `5/10` = 5 to the field's end), month and day names (JAN, MON), 0 or 7 for
 * Sunday, and the macros @hourly @daily @weekly @monthly @yearly. When both
 * day fields are restricted (neither starts with `*`), a day matches if EITHER
 * does; otherwise both must. Pure functions: no clock, no I/O.
 */

export class CronError extends Error {}

export interface Cron {
  minutes: ReadonlySet<number>
  hours: ReadonlySet<number>
  days: ReadonlySet<number>
  months: ReadonlySet<number>
  /** 0 = Sunday (7 is folded into 0). */
  weekdays: ReadonlySet<number>
  /** Vixie's test for "unrestricted": the field's text starts with `*` (so `*\/2` counts too). */
  daysStar: boolean
  weekdaysStar: boolean
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

interface FieldSpec {
  name: string
  min: number
  max: number
  /** Names for values, the first being `min`. */
  names?: string[]
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too, as in Vixie cron.
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
]

/** Longest expression accepted: anything longer is not a schedule anyone meant. */
const MAX_EXPR = 200

function value(text: string, f: FieldSpec): number {
  const named = f.names?.indexOf(text.toUpperCase()) ?? -1
  if (named >= 0) return f.min + named
  if (!/^\d+$/.test(text)) throw new CronError(`${f.name}: "${text}" is not a number`)
  const n = Number(text)
  if (n < f.min || n > f.max) throw new CronError(`${f.name}: ${n} is outside ${f.min}-${f.max}`)
  return n
}

function field(text: string, f: FieldSpec): Set<number> {
  const out = new Set<number>()
  for (const item of text.split(',')) {
    if (!item) throw new CronError(`${f.name}: empty list item in "${text}"`)
    const [range, stepText, extra] = item.split('/')
    if (extra !== undefined || range === undefined) throw new CronError(`${f.name}: bad step in "${item}"`)
    let step = 1
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0)
        throw new CronError(`${f.name}: step must be a positive number in "${item}"`)
      step = Number(stepText)
    }
    let lo: number
    let hi: number
    if (range === '*') {
      lo = f.min
      hi = f.max
    } else {
      const [a, b, more] = range.split('-')
      if (more !== undefined || a === undefined || a === '')
        throw new CronError(`${f.name}: bad range "${range}"`)
      lo = value(a, f)
      // `5/10` runs from 5 to the field's end; a lone `5` is just 5.
      hi = b !== undefined ? value(b, f) : stepText !== undefined ? f.max : lo
      if (lo > hi) throw new CronError(`${f.name}: range "${range}" runs backwards`)
    }
    for (let v = lo; v <= hi; v += step) out.add(v)
  }
  return out
}

/** Parse an expression (or macro); throws CronError saying what is wrong. */
export function parseCron(expr: string): Cron {
  if (typeof expr !== 'string') throw new CronError('expected a string')
  let text = expr.trim()
  if (text.length > MAX_EXPR) throw new CronError(`longer than ${MAX_EXPR} characters`)
  if (text.startsWith('@')) {
    const macro = MACROS[text.toLowerCase()]
    if (!macro) throw new CronError(`unknown macro ${text} (try @hourly, @daily, @weekly, @monthly, @yearly)`)
    text = macro
  }
  const parts = text.split(/\s+/)
  if (parts.length !== 5)
    throw new CronError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`)
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => field(p, FIELDS[i]!)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ]
  if (weekdays.delete(7)) weekdays.add(0)
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    daysStar: parts[2]!.startsWith('*'),
    weekdaysStar: parts[4]!.startsWith('*'),
  }
}

function dayMatches(c: Cron, d: Date): boolean {
  const dom = c.days.has(d.getUTCDate())
  const dow = c.weekdays.has(d.getUTCDay())
  return c.daysStar || c.weekdaysStar ? dom && dow : dom || dow
}

const MINUTE = 60_000
/** How far ahead to look: Feb 29 on a given weekday can be decades off, but Feb 29 itself is within 8 years. */
const HORIZON_MS = 10 * 366 * 24 * 60 * MINUTE

/**
 * The first firing strictly after `afterMs` (ms since the epoch, UTC), on a
 * whole minute. Throws CronError for an expression that never fires (`0 0 30 2 *`).
 */
export function nextFiring(expr: string | Cron, afterMs: number): number {
  const c = typeof expr === 'string' ? parseCron(expr) : expr
  const d = new Date(Math.floor(afterMs / MINUTE) * MINUTE + MINUTE)
  const limit = afterMs + HORIZON_MS
  // Skip whole months, days and hours that cannot match before stepping minutes.
  while (d.getTime() <= limit) {
    if (!c.months.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1)
      d.setUTCHours(0, 0, 0, 0)
    } else if (!dayMatches(c, d)) {
      d.setUTCDate(d.getUTCDate() + 1)
      d.setUTCHours(0, 0, 0, 0)
    } else if (!c.hours.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0)
    } else if (!c.minutes.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0)
    } else {
      return d.getTime()
    }
  }
  throw new CronError('never fires (no such date)')
}
