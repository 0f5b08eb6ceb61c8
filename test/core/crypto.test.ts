import { fromBase16, fromBase58Btc, fromBase64 } from '@atcute/multibase'
import { afterAll, describe, expect, it } from 'vitest'
import { AtprotoError } from '../../src/atproto/errors.ts'
import {
  didKeyToMultikey,
  generateKeypair,
  importKeypair,
  multikeyToDidKey,
  parseDidKeyString,
  verifySignature,
} from '../../src/atproto/keys.ts'
import { fixtureJson, Tally } from './fixtures.ts'

const tally = new Tally()
afterAll(() => tally.print())

interface SigCase {
  comment: string
  messageBase64: string
  algorithm: 'ES256' | 'ES256K'
  publicKeyDid: string
  signatureBase64: string
  validSignature: boolean
}

describe('crypto fixtures', () => {
  for (const fx of fixtureJson<SigCase[]>('crypto/signature-fixtures.json')) {
    it(fx.comment, () =>
      tally.check('crypto/signatures', async () => {
        const ok = await verifySignature(
          fx.publicKeyDid,
          fromBase64(fx.messageBase64),
          fromBase64(fx.signatureBase64),
        )
        expect(ok).toBe(fx.validSignature)
        expect(parseDidKeyString(fx.publicKeyDid).jwtAlg).toBe(fx.algorithm)
      }),
    )
  }

  for (const fx of fixtureJson<Array<{ privateKeyBytesBase58: string; publicDidKey: string }>>(
    'crypto/w3c_didkey_P256.json',
  )) {
    it(`P-256 did:key ${fx.publicDidKey}`, () =>
      tally.check('crypto/didkey-p256', async () => {
        const key = await importKeypair('p256', fromBase58Btc(fx.privateKeyBytesBase58))
        expect(key.did).toBe(fx.publicDidKey)
        expect(multikeyToDidKey(didKeyToMultikey(key.did))).toBe(key.did)
      }))
  }

  for (const fx of fixtureJson<Array<{ privateKeyBytesHex: string; publicDidKey: string }>>(
    'crypto/w3c_didkey_K256.json',
  )) {
    it(`K-256 did:key ${fx.publicDidKey}`, () =>
      tally.check('crypto/didkey-k256', async () => {
        const key = await importKeypair('secp256k1', fromBase16(fx.privateKeyBytesHex))
        expect(key.did).toBe(fx.publicDidKey)
        expect(parseDidKeyString(fx.publicDidKey).type).toBe('secp256k1')
      }))
  }
})

describe('keys', () => {
  for (const type of ['p256', 'secp256k1'] as const) {
    it(`${type}: signs low-S signatures that verify, and round-trips the private key`, async () => {
      const key = await generateKeypair(type)
      const data = new TextEncoder().encode('murmur')
      for (let i = 0; i < 20; i++) {
        const sig = await key.sign(data)
        expect(sig.length).toBe(64)
        expect(await verifySignature(key.did, data, sig)).toBe(true)
      }
      const again = await importKeypair(type, await key.exportPrivate())
      expect(again.did).toBe(key.did)
      expect(await verifySignature(key.did, new TextEncoder().encode('other'), await key.sign(data))).toBe(
        false,
      )
    })
  }

  it('rejects a bad stored key with a typed error', async () => {
    await expect(importKeypair('p256', new Uint8Array(31))).rejects.toBeInstanceOf(AtprotoError)
    await expect(importKeypair('p256', new Uint8Array(32))).rejects.toBeInstanceOf(AtprotoError)
    expect(() => parseDidKeyString('did:key:zNotAKey')).toThrow(AtprotoError)
  })
})
