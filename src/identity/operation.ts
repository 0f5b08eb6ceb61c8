/**
 * did:cf operations: did:plc's signed operation format, so the log can be
 * audited offline with the same rules and bridged to PLC as-is.
 */
import { toBase32, toBase64Url } from '@atcute/multibase'
import { toSha256 } from '@atcute/uint8array'
import { encodeCbor } from '../atproto/cbor.ts'
import { cidForCbor, cidToString } from '../atproto/cid.ts'
import type { Keypair } from '../atproto/keys.ts'

export const DID_CF_PREFIX = 'did:cf:'
/** The same derivation under PLC's prefix names the same log on a PLC directory. */
export const DID_PLC_PREFIX = 'did:plc:'

export interface Service {
  type: string
  endpoint: string
}

/** An operation without its signature. `prev` is the CID of the previous op, null at genesis. */
export interface UnsignedOperation {
  type: 'plc_operation'
  rotationKeys: string[]
  verificationMethods: Record<string, string>
  alsoKnownAs: string[]
  services: Record<string, Service>
  prev: string | null
}

export interface SignedOperation extends UnsignedOperation {
  /** base64url (unpadded) compact low-S signature over the DAG-CBOR of the unsigned op. */
  sig: string
}

export async function signOperation(op: UnsignedOperation, rotationKey: Keypair): Promise<SignedOperation> {
  const sig = await rotationKey.sign(encodeCbor(op))
  return { ...op, sig: toBase64Url(sig) }
}

/** The CID of a signed operation, which the next op names as `prev`. */
export async function operationCid(op: SignedOperation): Promise<string> {
  return cidToString(cidForCbor(encodeCbor(op)))
}

/** `did:cf:` (or `did:plc:`) + the first 24 base32 characters of sha-256(DAG-CBOR(signed genesis op)). */
export async function didForGenesis(genesis: SignedOperation, prefix = DID_CF_PREFIX): Promise<string> {
  const hash = await toSha256(encodeCbor(genesis))
  return prefix + toBase32(hash).slice(0, 24)
}

export interface GenesisInput {
  signingKey: string
  rotationKeys: string[]
  handle: string
  pdsEndpoint: string
}

export function genesisOperation(input: GenesisInput): UnsignedOperation {
  return {
    type: 'plc_operation',
    rotationKeys: input.rotationKeys,
    verificationMethods: { atproto: input.signingKey },
    alsoKnownAs: [`at://${input.handle}`],
    services: { atproto_pds: { type: 'AtprotoPersonalDataServer', endpoint: input.pdsEndpoint } },
    prev: null,
  }
}

/** The next operation: `prev` op's state with `changes` applied, chained to it by CID. */
export async function nextOperation(
  prev: SignedOperation,
  changes: Partial<Omit<UnsignedOperation, 'type' | 'prev'>>,
): Promise<UnsignedOperation> {
  const { sig: _sig, ...state } = prev
  return { ...state, ...changes, type: 'plc_operation', prev: await operationCid(prev) }
}
