/**
 * Bounded fuzzing: random and truncated bytes into every decoder. Each must
 * either succeed or throw an AtprotoError — never crash with anything else, never hang.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { carBytes, parseCar } from '../../src/atproto/car.ts'
import { decodeCbor, encodeCbor } from '../../src/atproto/cbor.ts'
import { cidForCbor, decodeCid, parseCid } from '../../src/atproto/cid.ts'
import { AtprotoError } from '../../src/atproto/errors.ts'
import { parseDidKeyString } from '../../src/atproto/keys.ts'
import { Lexicons, parseLexiconDoc } from '../../src/atproto/lexicon/index.ts'
import { decodeMultibase, decodeVarint } from '../../src/atproto/multiformats.ts'
import { fixtureJson } from './fixtures.ts'

const RUNS = 400

async function typedOrOk(fn: () => unknown): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if (!(err instanceof AtprotoError)) throw new Error(`untyped error: ${String(err)}`)
  }
}

const byteDecoders: Record<string, (b: Uint8Array) => unknown> = {
  cbor: (b) => decodeCbor(b),
  car: (b) => parseCar(b, { verify: true }),
  cid: (b) => decodeCid(b),
  varint: (b) => decodeVarint(b),
}
const stringDecoders: Record<string, (s: string) => unknown> = {
  'cid string': (s) => parseCid(s),
  multibase: (s) => decodeMultibase(s),
  'did:key': (s) => parseDidKeyString(s),
}

/** A valid sample per decoder, so truncation explores near-valid input. */
async function validSamples(): Promise<Record<string, Uint8Array>> {
  const cbor = encodeCbor({ $type: 'x.y.z', text: 'hello', n: 42, list: [1, 2, { a: null }] })
  const cid = cidForCbor(cbor)
  const car = carBytes([cid], [{ cid: cid.bytes, bytes: cbor }])
  return { cbor, car, cid: cid.bytes, varint: new Uint8Array([0xac, 0x82, 0x01]) }
}

describe('fuzz: decoders never crash on bad input', () => {
  for (const [name, decode] of Object.entries(byteDecoders)) {
    it(`${name}: random bytes`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), (bytes) => typedOrOk(() => decode(bytes))),
        { numRuns: RUNS },
      )
    })
    it(`${name}: every truncation and random bit flips of a valid input`, async () => {
      const sample = (await validSamples())[name]!
      expect(await Promise.resolve(decode(sample))).toBeDefined()
      for (let i = 0; i < sample.length; i++) await typedOrOk(() => decode(sample.subarray(0, i)))
      await fc.assert(
        fc.asyncProperty(fc.nat(sample.length * 8 - 1), (bit) => {
          const copy = sample.slice()
          copy[bit >> 3]! ^= 1 << (bit & 7)
          return typedOrOk(() => decode(copy))
        }),
        { numRuns: RUNS },
      )
    })
  }
  for (const [name, decode] of Object.entries(stringDecoders)) {
    it(`${name}: random strings`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 80 }), (s) => typedOrOk(() => decode(s))),
        { numRuns: RUNS },
      )
      await fc.assert(
        fc.asyncProperty(fc.stringMatching(/^[bzmu][a-zA-Z0-9]{0,60}$/), (s) => typedOrOk(() => decode(s))),
        { numRuns: RUNS },
      )
    })
  }

  it('lexicon documents: random JSON and mutated valid documents', async () => {
    const valid = fixtureJson<Array<{ lexicon: unknown }>>('lexicon/lexicon-valid.json').map((c) => c.lexicon)
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), (doc) => typedOrOk(() => parseLexiconDoc(doc))),
      { numRuns: RUNS },
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...valid), fc.jsonValue(), fc.nat(), (doc, junk, n) => {
        const copy = structuredClone(doc) as Record<string, unknown>
        const paths: Array<[Record<string, unknown>, string]> = []
        const walk = (o: unknown) => {
          if (o && typeof o === 'object')
            for (const k of Object.keys(o)) {
              paths.push([o as Record<string, unknown>, k])
              walk((o as Record<string, unknown>)[k])
            }
        }
        walk(copy)
        const [obj, key] = paths[n % paths.length]!
        obj[key] = junk
        return typedOrOk(() => parseLexiconDoc(copy))
      }),
      { numRuns: RUNS },
    )
  })

  it('records: random JSON validated against a lexicon', async () => {
    const lex = new Lexicons(
      fixtureJson<Array<{ lexicon: unknown }>>('lexicon/lexicon-valid.json').map((c) => c.lexicon),
    )
    const [first] = [...lex]
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), (value) => typedOrOk(() => lex.validateRecord(first!.id, value))),
      { numRuns: RUNS },
    )
  })
})
