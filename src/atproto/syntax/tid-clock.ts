import { fail } from '../errors.ts'
import { formatTid, MAX_TID_CLOCK_ID, MAX_TID_TIMESTAMP, parseTid } from './tid.ts'

/**
 * Monotonic TID generator. Timestamps come from the wall clock in microseconds, but each TID is
 * strictly greater than the last one this clock produced, even when the wall clock stalls (as it
 * does inside a Workers request) or steps backwards.
 */
export class TidClock {
  readonly clockId: number
  private last = -1

  constructor(
    clockId?: number,
    private readonly nowUs: () => number = () => Date.now() * 1000,
  ) {
    if (clockId === undefined) {
      clockId = crypto.getRandomValues(new Uint16Array(1))[0]! & MAX_TID_CLOCK_ID
    } else if (!Number.isInteger(clockId) || clockId < 0 || clockId > MAX_TID_CLOCK_ID) {
      fail('InvalidSyntax', `TID clock id must be an integer 0-${MAX_TID_CLOCK_ID}, got ${clockId}`)
    }
    this.clockId = clockId
  }

  /** Next TID: strictly greater than every TID this clock has returned. */
  next(): string {
    return this.issue(Math.floor(this.nowUs()))
  }

  /** Next TID that is also strictly greater than `prev` (any clock id), e.g. for commit revs. */
  nextAfter(prev: string): string {
    const { timestampUs } = parseTid(prev)
    // Same timestamp with a higher clock id would also sort after, but +1 is simpler and safe.
    return this.issue(Math.max(Math.floor(this.nowUs()), timestampUs + 1))
  }

  private issue(candidate: number): string {
    const ts = Math.max(candidate, this.last + 1)
    if (ts > MAX_TID_TIMESTAMP) fail('InvalidSyntax', 'TID timestamp space exhausted')
    this.last = ts
    return formatTid(ts, this.clockId)
  }
}
