import { readdirSync, readFileSync } from 'node:fs'
import * as atcuteTid from '@atcute/tid'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { AtprotoError } from '../../src/atproto/errors.ts'
import * as syn from '../../src/atproto/syntax/index.ts'
import { Tally } from './fixtures.ts'

const DIR = new URL('../fixtures/atproto-interop-tests/syntax/', import.meta.url)

/** One case per line; skip blank lines and `#` comments; never trim. */
function cases(file: string): string[] {
  return readFileSync(new URL(file, DIR), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
}

function throwsSyntax(fn: () => unknown): boolean {
  try {
    fn()
    return false
  } catch (err) {
    return err instanceof AtprotoError && err.code === 'InvalidSyntax'
  }
}

interface Family {
  /** The syntax check: must accept `*_syntax_valid`, reject `*_syntax_invalid`. */
  is: (s: string) => boolean
  /** Throwing asserts; must succeed on valid lines and throw InvalidSyntax on invalid ones. */
  asserts: ((s: string) => unknown)[]
  /** The parser, if any: like asserts, and must also reject `*_parse_invalid`. */
  parse?: (s: string) => unknown
  /** For `*_parse_invalid`: the superficial syntax check that the fixture says still passes. */
  superficial?: (s: string) => boolean
}

const FAMILIES: Record<string, Family> = {
  atidentifier: { is: syn.isAtIdentifier, asserts: [syn.assertAtIdentifier] },
  aturi: { is: syn.isAtUri, asserts: [syn.assertAtUri], parse: syn.parseAtUri },
  cid: { is: syn.isCidString, asserts: [] },
  datetime: {
    is: syn.isDatetime,
    asserts: [syn.assertDatetime],
    parse: syn.parseDatetime,
    superficial: syn.isDatetimeSyntax,
  },
  did: { is: syn.isDid, asserts: [syn.assertDid] },
  handle: { is: syn.isHandle, asserts: [syn.assertHandle, syn.normalizeAndAssertHandle] },
  language: {
    is: syn.isLanguage,
    asserts: [syn.assertLanguage],
    parse: syn.parseLanguage,
    superficial: syn.isLanguage,
  },
  nsid: { is: syn.isNsid, asserts: [syn.assertNsid], parse: syn.parseNsid },
  recordkey: { is: syn.isRecordKey, asserts: [syn.assertRecordKey] },
  tid: { is: syn.isTid, asserts: [syn.assertTid], parse: syn.parseTid },
  uri: { is: syn.isUri, asserts: [] },
}

const tally = new Tally()

function check(family: Family, kind: string, line: string): boolean {
  const strict = family.parse ? [...family.asserts, family.parse] : family.asserts
  if (kind === 'syntax_valid') return family.is(line) && strict.every((fn) => !throwsSyntax(() => fn(line)))
  if (kind === 'syntax_invalid') return !family.is(line) && strict.every((fn) => throwsSyntax(() => fn(line)))
  // parse_invalid: superficially well-formed, but the parser rejects it.
  const { parse, superficial } = family
  if (!parse || !superficial) return false
  return superficial(line) && throwsSyntax(() => parse(line))
}

describe('syntax interop fixtures', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.txt'))

  it('covers every fixture family', () => {
    expect(files.length).toBeGreaterThanOrEqual(24)
    for (const file of files) expect(FAMILIES, file).toHaveProperty(file.split('_')[0]!)
  })

  for (const file of files) {
    const match = /^([a-z]+)_(syntax_valid|syntax_invalid|parse_invalid)\.txt$/.exec(file)
    it(file, () => {
      expect(match, `unexpected fixture file ${file}`).not.toBeNull()
      const [, name, kind] = match as unknown as [string, string, string]
      const family = FAMILIES[name]!
      const lines = cases(file)
      expect(lines.length).toBeGreaterThan(0)
      const failed = lines.filter((line) => !check(family, kind, line))
      tally.recordMany(`syntax/${name}`, lines.length - failed.length, lines.length)
      expect(failed.map((l) => JSON.stringify(l.slice(0, 80)))).toEqual([])
    })
  }

  afterAll(() => tally.print())
})

describe('syntax parsers', () => {
  it('parseAtUri splits authority, collection and rkey', () => {
    expect(syn.parseAtUri('at://did:plc:asdf123')).toEqual({ authority: 'did:plc:asdf123' })
    expect(syn.parseAtUri('at://alice.test/com.example.post')).toEqual({
      authority: 'alice.test',
      collection: 'com.example.post',
    })
    const full = 'at://did:plc:asdf123/com.example.post/3jzfcijpj2z2a'
    expect(syn.parseAtUri(full)).toEqual({
      authority: 'did:plc:asdf123',
      collection: 'com.example.post',
      rkey: '3jzfcijpj2z2a',
    })
    expect(syn.formatAtUri(syn.parseAtUri(full))).toBe(full)
  })

  it('parseNsid gives the domain authority and name', () => {
    expect(syn.parseNsid('com.Example.feed.fooBar')).toEqual({
      authority: 'feed.example.com',
      name: 'fooBar',
      segments: ['com', 'Example', 'feed', 'fooBar'],
    })
  })

  it('parseDatetime handles offsets, fractions and year zero', () => {
    expect(syn.parseDatetime('1985-04-12T23:20:50.123Z').toISOString()).toBe('1985-04-12T23:20:50.123Z')
    expect(syn.parseDatetime('1985-04-12T23:20:50.123-07:00').toISOString()).toBe('1985-04-13T06:20:50.123Z')
    expect(syn.parseDatetime('1985-04-12T23:20:50.1299999Z').getUTCMilliseconds()).toBe(129)
    expect(syn.parseDatetime('0000-01-01T00:00:00.000Z').getUTCFullYear()).toBe(0)
    expect(syn.isDatetime('2024-02-29T00:00:00Z')).toBe(true)
    expect(syn.isDatetime('2023-02-29T00:00:00Z')).toBe(false)
  })

  it('parseLanguage exposes subtags', () => {
    expect(syn.parseLanguage('hy-Latn-IT-arevela')).toMatchObject({
      language: 'hy',
      script: 'Latn',
      region: 'IT',
      variants: ['arevela'],
    })
    expect(syn.parseLanguage('i-default').grandfathered).toBe(true)
  })

  it('normalizeHandle lowercases', () => {
    expect(syn.normalizeHandle('Alice.Example.COM')).toBe('alice.example.com')
    expect(() => syn.normalizeAndAssertHandle('nope')).toThrow(AtprotoError)
  })
})

describe('TIDs', () => {
  it('formatTid / parseTid round-trip and agree with @atcute/tid', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: syn.MAX_TID_TIMESTAMP }),
        fc.integer({ min: 0, max: 1023 }),
        (ts, id) => {
          const tid = syn.formatTid(ts, id)
          expect(syn.isTid(tid)).toBe(true)
          expect(syn.parseTid(tid)).toEqual({ timestampUs: ts, clockId: id })
          if (ts < 2 ** 52) expect(tid).toBe(atcuteTid.create(ts, id))
        },
      ),
    )
  })

  it('string order matches numeric order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: syn.MAX_TID_TIMESTAMP }),
        fc.integer({ min: 0, max: syn.MAX_TID_TIMESTAMP }),
        fc.integer({ min: 0, max: 1023 }),
        fc.integer({ min: 0, max: 1023 }),
        (a, b, ia, ib) => {
          const ta = syn.formatTid(a, ia)
          const tb = syn.formatTid(b, ib)
          expect(ta < tb).toBe(a < b || (a === b && ia < ib))
        },
      ),
    )
  })

  it('rejects out-of-range inputs', () => {
    expect(() => syn.formatTid(-1, 0)).toThrow(AtprotoError)
    expect(() => syn.formatTid(2 ** 53, 0)).toThrow(AtprotoError)
    expect(() => syn.formatTid(1.5, 0)).toThrow(AtprotoError)
    expect(() => syn.formatTid(0, 1024)).toThrow(AtprotoError)
    expect(() => new syn.TidClock(1024)).toThrow(AtprotoError)
    expect(() => syn.parseTid('3JZFCIJPJ2Z2A')).toThrow(AtprotoError)
  })

  it('uses the given clock id, or a random one in range', () => {
    expect(syn.parseTid(new syn.TidClock(7).next()).clockId).toBe(7)
    for (let i = 0; i < 50; i++) {
      const id = new syn.TidClock().clockId
      expect(Number.isInteger(id) && id >= 0 && id <= 1023).toBe(true)
    }
  })

  it('is strictly monotonic over 10,000 calls with the real clock', () => {
    const clock = new syn.TidClock()
    let prev = clock.next()
    for (let i = 0; i < 10_000; i++) {
      const tid = clock.next()
      expect(tid > prev).toBe(true)
      prev = tid
    }
    const nowUs = Date.now() * 1000
    // Stays close to wall time: at most one microsecond per call ahead.
    expect(Math.abs(syn.parseTid(prev).timestampUs - nowUs)).toBeLessThan(60_000_000)
  })

  it('stays monotonic when the wall clock stalls or goes backwards', () => {
    let now = 1_700_000_000_000_000
    const clock = new syn.TidClock(3, () => now)
    const seen: string[] = []
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 50) now -= 5_000_000 // step back 5 s
      if (i % 10 === 0) now += 1 // mostly stalled
      seen.push(clock.next())
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]! > seen[i - 1]!).toBe(true)
    expect(new Set(seen).size).toBe(seen.length)
  })

  it('nextAfter returns a TID greater than prev and than everything issued before', () => {
    let now = 1_700_000_000_000_000
    const clock = new syn.TidClock(0, () => now)
    const future = syn.formatTid(now + 10_000_000, 1023)
    const a = clock.nextAfter(future)
    expect(a > future).toBe(true)
    const b = clock.next() // wall clock is behind, but must not go back
    expect(b > a).toBe(true)
    const old = syn.formatTid(now - 1_000_000, 5)
    const c = clock.nextAfter(old)
    expect(c > old && c > b).toBe(true)
    now += 60_000_000
    const d = clock.nextAfter(c)
    expect(syn.parseTid(d).timestampUs).toBe(now)
    expect(() => clock.nextAfter('not-a-tid')).toThrow(AtprotoError)
    // A prev from another clock with the same timestamp still yields something greater.
    const same = syn.formatTid(syn.parseTid(d).timestampUs, 1023)
    expect(clock.nextAfter(same) > same).toBe(true)
  })

  it('nextAfter works with fast-check generated revs', () => {
    const clock = new syn.TidClock()
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: syn.MAX_TID_TIMESTAMP - 2 ** 40 }),
        fc.integer({ min: 0, max: 1023 }),
        (ts, id) => {
          const prev = syn.formatTid(ts, id)
          expect(clock.nextAfter(prev) > prev).toBe(true)
        },
      ),
    )
  })
})
