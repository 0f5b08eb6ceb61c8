/**
 * Signing keys: P-256 (ES256) and secp256k1 (ES256K). Signatures are compact
 * (r||s) and low-S; verification rejects high-S (malleable) signatures.
 */
import {
  type FoundPublicKey,
  P256PrivateKeyExportable,
  P256PublicKey,
  type PrivateKeyExportable,
  parseDidKey,
  parsePublicMultikey,
  Secp256k1PrivateKeyExportable,
  Secp256k1PublicKey,
  verifySig,
} from '@atcute/crypto'
import { AtprotoError, fail, guard } from './errors.ts'

export type KeyType = 'p256' | 'secp256k1'
export type PublicKey = FoundPublicKey
export type DidKey = `did:key:${string}`

/** A keypair that can sign and export itself (for wrapping at rest). */
export interface Keypair {
  readonly type: KeyType
  readonly did: DidKey
  sign(data: Uint8Array): Promise<Uint8Array>
  exportPrivate(): Promise<Uint8Array>
}

const impl = { p256: P256PrivateKeyExportable, secp256k1: Secp256k1PrivateKeyExportable } as const

async function wrap(type: KeyType, key: PrivateKeyExportable): Promise<Keypair> {
  const did = (await key.exportPublicKey('did')) as DidKey
  return {
    type,
    did,
    sign: (data) => key.sign(data),
    exportPrivate: () => key.exportPrivateKey('raw'),
  }
}

export async function generateKeypair(type: KeyType = 'p256'): Promise<Keypair> {
  return wrap(type, await impl[type].createKeypair())
}

/** Import a raw 32-byte private key. A bad key is an error, never a new identity. */
export async function importKeypair(type: KeyType, privateKey: Uint8Array): Promise<Keypair> {
  if (privateKey.length !== 32) fail('InvalidKey', `private key must be 32 bytes, got ${privateKey.length}`)
  try {
    return await wrap(type, await impl[type].importRaw(privateKey))
  } catch (err) {
    if (err instanceof AtprotoError) throw err
    return fail('InvalidKey', 'cannot import private key', err)
  }
}

/** Parse `did:key:z…` into a public key. */
export function parseDidKeyString(didKey: string): PublicKey {
  return guard('InvalidKey', 'invalid did:key', () => parseDidKey(didKey))
}

/** Parse a Multikey `publicKeyMultibase` value. */
export function parseMultikey(multibase: string): PublicKey {
  return guard('InvalidKey', 'invalid multikey', () => parsePublicMultikey(multibase))
}

/** The Multikey form of a did:key (what DID documents publish). */
export function didKeyToMultikey(didKey: string): string {
  parseDidKeyString(didKey)
  return didKey.slice('did:key:'.length)
}

export function multikeyToDidKey(multibase: string): DidKey {
  parseMultikey(multibase)
  return `did:key:${multibase}`
}

type Verifier = Pick<P256PublicKey, 'verify'>

/**
 * Imported public keys by did:key. Importing costs more than verifying (a
 * relay checks many commits per key), so keep the most recent ones.
 */
const verifiers = new Map<string, Promise<Verifier>>()
const MAX_VERIFIERS = 10_000

function verifierFor(didKey: string): Promise<Verifier> {
  let v = verifiers.get(didKey)
  if (!v) {
    const pub = parseDidKeyString(didKey)
    v =
      pub.type === 'p256'
        ? P256PublicKey.importRaw(pub.publicKeyBytes)
        : Secp256k1PublicKey.importRaw(pub.publicKeyBytes)
    if (verifiers.size >= MAX_VERIFIERS) verifiers.delete(verifiers.keys().next().value!)
    verifiers.set(didKey, v)
    v.catch(() => verifiers.delete(didKey))
  }
  return v
}

/** Verify a compact low-S signature; malformed keys or signatures simply fail. */
export async function verifySignature(
  key: PublicKey | string,
  data: Uint8Array,
  sig: Uint8Array,
): Promise<boolean> {
  try {
    if (typeof key === 'string') return await (await verifierFor(key)).verify(sig, data)
    return await verifySig(key, sig as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>)
  } catch {
    return false
  }
}
