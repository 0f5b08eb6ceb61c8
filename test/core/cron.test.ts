import { describe, expect, it } from 'vitest'
import { CronError, nextFiring, parseCron } from '../../src/agent/cron.ts'

const t = (iso: string) => Date.parse(iso)
const next = (expr: string, after: string) => new Date(nextFiring(expr, t(after))).toISOString()

/** The first n firings after `after`. */
function firings(expr: string, after: string, n: number): string[] {
  const out: string[] = []
  let at = t(after)
  for (let i = 0; i < n; i++) {
    at = nextFiring(expr, at)
    out.push(new Date(at).toISOString())
  }
  return out
}

describe('nextFiring', () => {
  it('every minute: the next whole minute, strictly after', () => {
    expect(next('* * * * *', '2025-03-04T10:20:00.000Z')).toBe('2025-03-04T10:21:00.000Z')
    expect(next('* * * * *', '2025-03-04T10:20:59.999Z')).toBe('2025-03-04T10:21:00.000Z')
    expect(next('* * * * *', '2025-12-31T23:59:30.000Z')).toBe('2026-01-01T00:00:00.000Z')
  })

  it('steps, ranges and lists', () => {
    expect(firings('*/15 * * * *', '2025-03-04T10:20:00Z', 3)).toEqual([
      '2025-03-04T10:30:00.000Z',
      '2025-03-04T10:45:00.000Z',
      '2025-03-04T11:00:00.000Z',
    ])
    expect(firings('0 1-5/2 * * *', '2025-03-04T00:00:00Z', 4)).toEqual([
      '2025-03-04T01:00:00.000Z',
      '2025-03-04T03:00:00.000Z',
      '2025-03-04T05:00:00.000Z',
      '2025-03-05T01:00:00.000Z',
    ])
    expect(firings('5,10-11 9 * * *', '2025-03-04T09:06:00Z', 3)).toEqual([
      '2025-03-04T09:10:00.000Z',
      '2025-03-04T09:11:00.000Z',
      '2025-03-05T09:05:00.000Z',
    ])
    // `a/n` runs from a to the field's end.
    expect(firings('50/5 0 * * *', '2025-03-04T00:00:00Z', 3)).toEqual([
      '2025-03-04T00:50:00.000Z',
      '2025-03-04T00:55:00.000Z',
      '2025-03-05T00:50:00.000Z',
    ])
  })

  it('month and day names, any case; 7 is Sunday', () => {
    // 2025-03-04 is a Tuesday.
    expect(next('30 9 * * MON-FRI', '2025-03-07T10:00:00Z')).toBe('2025-03-10T09:30:00.000Z')
    expect(next('0 0 1 jun *', '2025-03-04T00:00:00Z')).toBe('2025-06-01T00:00:00.000Z')
    expect(next('0 12 * * 7', '2025-03-04T00:00:00Z')).toBe('2025-03-09T12:00:00.000Z')
    expect(next('0 12 * * sun', '2025-03-04T00:00:00Z')).toBe('2025-03-09T12:00:00.000Z')
  })

  it('day of month OR day of week when both are restricted, AND when either starts with *', () => {
    // The 13th, or any Friday: 2025-03-07 is a Friday, before the 13th.
    expect(firings('0 0 13 * FRI', '2025-03-04T00:00:00Z', 3)).toEqual([
      '2025-03-07T00:00:00.000Z',
      '2025-03-13T00:00:00.000Z',
      '2025-03-14T00:00:00.000Z',
    ])
    // Day of week `*`: only the 13th.
    expect(next('0 0 13 * *', '2025-03-04T00:00:00Z')).toBe('2025-03-13T00:00:00.000Z')
    // Day of month `*/1` starts with `*`: Vixie ANDs, so Fridays only.
    expect(next('0 0 */1 * FRI', '2025-03-08T00:00:00Z')).toBe('2025-03-14T00:00:00.000Z')
  })

  it('macros', () => {
    const after = '2025-03-04T10:20:00Z'
    expect(next('@hourly', after)).toBe('2025-03-04T11:00:00.000Z')
    expect(next('@daily', after)).toBe('2025-03-05T00:00:00.000Z')
    expect(next('@weekly', after)).toBe('2025-03-09T00:00:00.000Z')
    expect(next('@monthly', after)).toBe('2025-04-01T00:00:00.000Z')
    expect(next('@yearly', after)).toBe('2026-01-01T00:00:00.000Z')
    expect(next('@ANNUALLY', after)).toBe('2026-01-01T00:00:00.000Z')
  })

  it('finds rare dates: Feb 29, the 31st', () => {
    expect(next('0 0 29 2 *', '2025-03-04T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z')
    // 2100 is not a leap year.
    expect(next('0 0 29 2 *', '2096-03-01T00:00:00Z')).toBe('2104-02-29T00:00:00.000Z')
    expect(next('0 0 31 * *', '2025-04-01T00:00:00Z')).toBe('2025-05-31T00:00:00.000Z')
  })

  it('rejects a date that never comes', () => {
    expect(() => nextFiring('0 0 30 2 *', 0)).toThrow(/never fires/)
    expect(() => nextFiring('0 0 31 4,6,9,11 *', 0)).toThrow(CronError)
  })
})

describe('parseCron', () => {
  it.each([
    ['', /expected 5 fields/],
    ['* * * *', /expected 5 fields .*, got 4/],
    ['* * * * * *', /got 6/],
    ['60 * * * *', /minute: 60 is outside 0-59/],
    ['* 24 * * *', /hour: 24/],
    ['* * 0 * *', /day of month: 0/],
    ['* * * 13 *', /month: 13/],
    ['* * * * 8', /day of week: 8/],
    ['*/0 * * * *', /step must be a positive number/],
    ['*/x * * * *', /step/],
    ['1/2/3 * * * *', /bad step/],
    ['5-1 * * * *', /runs backwards/],
    ['0 0 * DEC-JAN *', /month: range "DEC-JAN" runs backwards/],
    ['1-2-3 * * * *', /bad range/],
    ['-1 * * * *', /bad range/],
    ['1,,2 * * * *', /empty list item/],
    ['a * * * *', /minute: "a" is not a number/],
    ['* * * FOO *', /month: "FOO"/],
    ['* * * * MONDAY', /day of week: "MONDAY"/],
    ['@reboot', /unknown macro @reboot/],
    ['@every 5m', /unknown macro/],
    ['1.5 * * * *', /not a number/],
    [`${'1,'.repeat(150)}1 * * * *`, /longer than 200/],
  ])('rejects %j', (expr, message) => {
    expect(() => parseCron(expr)).toThrow(CronError)
    expect(() => parseCron(expr)).toThrow(message)
  })

  it('reads fields into sets', () => {
    const c = parseCron('  0,30 */6 1 JAN-MAR 1-5  ')
    expect([...c.minutes]).toEqual([0, 30])
    expect([...c.hours]).toEqual([0, 6, 12, 18])
    expect([...c.months]).toEqual([1, 2, 3])
    expect([...c.weekdays]).toEqual([1, 2, 3, 4, 5])
    expect(c.daysStar).toBe(false)
    expect(c.weekdaysStar).toBe(false)
    expect([...parseCron('0 0 * * 5-7').weekdays].sort()).toEqual([0, 5, 6])
  })
})
