import { fromBase64 } from '@atcute/multibase'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeCbor, encodeCbor, toPlainJson } from '../../src/atproto/cbor.ts'
import { cidForCbor, cidToString } from '../../src/atproto/cid.ts'
import { assertRecordValue } from '../../src/atproto/data-model.ts'
import { AtprotoError } from '../../src/atproto/errors.ts'
import { fixtureJson, Tally } from './fixtures.ts'

const tally = new Tally()
afterAll(() => tally.print())

interface RoundTrip {
  json: unknown
  cbor_base64: string
  cid: string
}
interface Case {
  note: string
  json: unknown
}

describe('data-model fixtures', () => {
  for (const fx of fixtureJson<RoundTrip[]>('data-model/data-model-fixtures.json')) {
    it(`round-trips ${fx.cid}`, () =>
      tally.check('data-model/fixtures', async () => {
        const cbor = fromBase64(fx.cbor_base64)
        // JSON → CBOR is byte-exact, and so is the CID.
        const encoded = encodeCbor(fx.json)
        expect(Buffer.from(encoded).toString('base64url')).toBe(Buffer.from(cbor).toString('base64url'))
        expect(cidToString(cidForCbor(encoded))).toBe(fx.cid)
        // CBOR → JSON gives back the same JSON.
        expect(JSON.parse(JSON.stringify(decodeCbor(cbor)))).toEqual(fx.json)
      }))
  }

  for (const fx of fixtureJson<Case[]>('data-model/data-model-valid.json')) {
    it(`accepts: ${fx.note}`, () =>
      tally.check('data-model/valid', () => {
        assertRecordValue(fx.json)
        expect(decodeCbor(encodeCbor(fx.json))).toEqual(fx.json)
      }))
  }

  for (const fx of fixtureJson<Case[]>('data-model/data-model-invalid.json')) {
    it(`rejects: ${fx.note}`, () =>
      tally.check('data-model/invalid', () => {
        expect(() => assertRecordValue(fx.json)).toThrow(AtprotoError)
        // Beyond the top-level shape, nothing invalid can be encoded either.
        if (typeof fx.json === 'object') expect(() => encodeCbor(fx.json)).toThrow(AtprotoError)
      }))
  }
})

describe('toPlainJson', () => {
  it('gives every fixture the JSON form, with no wrapper classes left to trip structured clone', () => {
    for (const fx of fixtureJson<RoundTrip[]>('data-model/data-model-fixtures.json')) {
      const plain = toPlainJson(decodeCbor(fromBase64(fx.cbor_base64)))
      expect(plain).toEqual(fx.json)
      expect(structuredClone(plain)).toEqual(fx.json)
    }
  })

  it('leaves values without links or bytes as they are', () => {
    const value = { a: [1, 'x', { b: null }], c: true }
    expect(toPlainJson(value)).toBe(value)
  })
})
