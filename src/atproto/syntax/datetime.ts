import { fail } from '../errors.ts'
import { preview } from './did.ts'

export const MAX_DATETIME_LENGTH = 64

// RFC 3339 ∩ ISO 8601: uppercase T and Z, seconds required, optional fraction, and a timezone
// that is `Z` or `±HH:MM` (but not `-00:00`, which RFC 3339 gives a special meaning).
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/

/** Superficial syntax only: field widths and separators, no range checks. */
export function isDatetimeSyntax(s: string): boolean {
  return (
    typeof s === 'string' && s.length <= MAX_DATETIME_LENGTH && DATETIME_RE.test(s) && !s.endsWith('-00:00')
  )
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

function tryParse(s: string): Date | undefined {
  if (!isDatetimeSyntax(s)) return undefined
  const m = DATETIME_RE.exec(s)!
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  let offsetMin = 0
  if (m[8] !== 'Z') {
    const oh = Number(m[10])
    const om = Number(m[11])
    if (oh > 23 || om > 59) return undefined
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const ms = m[7] ? Number(`${m[7].slice(1)}00`.slice(0, 3)) : 0
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute - offsetMin, second, ms)
  // Year 0000 is allowed, but an offset must not push the instant before it.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0) return undefined
  return date
}

/** A valid atproto datetime: correct syntax and a real calendar instant not before year 0. */
export function isDatetime(s: string): boolean {
  return tryParse(s) !== undefined
}

export function assertDatetime(s: unknown): asserts s is string {
  if (!isDatetime(s as string)) fail('InvalidSyntax', `Invalid datetime: ${preview(s)}`)
}

/** Parse to a Date (millisecond precision; extra fraction digits are truncated). */
export function parseDatetime(s: string): Date {
  return tryParse(s) ?? fail('InvalidSyntax', `Invalid datetime: ${preview(s)}`)
}
