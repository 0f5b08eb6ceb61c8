/**
 * The agent's signing key at rest: sealed with the network's wrapping key and
 * bound to the DID. A key that cannot be opened is an error, never a new identity.
 */
import { importKeypair, type Keypair, type KeyType } from '../atproto/keys.ts'
import { open, seal, wrappingKey } from '../auth/secret.ts'
import { XrpcError } from '../http/xrpc.ts'

const label = (did: string) => `signing-key:${did}`

export async function sealSigningKey(
  secret: string,
  did: string,
  privateKey: Uint8Array,
): Promise<Uint8Array> {
  return seal(await wrappingKey(secret), privateKey, label(did))
}

export async function openSigningKey(
  secret: string,
  did: string,
  type: KeyType,
  sealed: Uint8Array,
): Promise<Keypair> {
  try {
    return await importKeypair(type, await open(await wrappingKey(secret), sealed, label(did)))
  } catch {
    // Never fall back to a fresh key: that would silently become another identity.
    throw new XrpcError(500, 'KeyUnavailable', `The stored signing key of ${did} cannot be read`)
  }
}
