/**
 * The network's side of did:cf: its rotation key (derived from the network
 * secret, so nothing extra is stored), creating identities and rotating
 * agents' signing keys, recorded in the directory's operation log.
 */
import { importKeypair, type Keypair } from '../atproto/keys.ts'
import { Directory } from '../directory/directory.ts'
import type { Env } from '../env.ts'
import { XrpcError } from '../http/xrpc.ts'
import { type AuditEntry, auditEntry } from './audit.ts'
import { didForGenesis, genesisOperation, nextOperation, signOperation } from './operation.ts'

const rotationKeys = new Map<string, Promise<Keypair>>()

/** The network rotation key: P-256, derived from MURMUR_SECRET with HKDF. */
export function networkRotationKey(env: Env): Promise<Keypair> {
  const secret = env.MURMUR_SECRET
  if (!secret) throw new XrpcError(500, 'InternalServerError', 'The network secret is not configured')
  let key = rotationKeys.get(secret)
  if (!key) {
    key = derive(secret)
    rotationKeys.set(secret, key)
  }
  return key
}

async function derive(secret: string): Promise<Keypair> {
  const enc = new TextEncoder()
  const base = await crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveBits'])
  for (let i = 0; ; i++) {
    const info = enc.encode(`did-cf-rotation-key/${i}`)
    const bits = await crypto.subtle.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt: enc.encode('murmur/v1'), info },
      base,
      256,
    )
    // A 32-byte string is a valid P-256 scalar with overwhelming odds; try the next on the rare miss.
    try {
      return await importKeypair('p256', new Uint8Array(bits))
    } catch (err) {
      if (i > 8) throw err
    }
  }
}

/** A signed genesis op for a new agent, and the DID it derives. */
export async function createIdentity(
  env: Env,
  input: { signingKey: string; handle: string; pdsEndpoint: string; recoveryKey?: string },
): Promise<{ did: string; genesis: AuditEntry }> {
  const rotation = await networkRotationKey(env)
  // The operator's own recovery key ranks first, as PLC orders them, so it can override the network.
  const rotationKeys = input.recoveryKey ? [input.recoveryKey, rotation.did] : [rotation.did]
  const { recoveryKey: _, ...rest } = input
  const op = await signOperation(genesisOperation({ ...rest, rotationKeys }), rotation)
  const did = await didForGenesis(op)
  return { did, genesis: await auditEntry(did, op) }
}

/** Append an op naming a new atproto signing key. */
export async function rotateSigningKey(env: Env, did: string, signingKey: string): Promise<AuditEntry> {
  const dir = new Directory(env.DB)
  const current = await dir.currentOp(did)
  if (!current) throw new XrpcError(400, 'RepoNotFound', `Unknown DID: ${did}`)
  const rotation = await networkRotationKey(env)
  const op = await signOperation(
    await nextOperation(current, {
      verificationMethods: { ...current.verificationMethods, atproto: signingKey },
    }),
    rotation,
  )
  const e = await auditEntry(did, op)
  await dir.appendOp(did, e)
  return e
}
