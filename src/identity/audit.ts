/**
 * Offline verification of a did:cf operation log: the DID derives from the
 * genesis op, each op chains to the one before by CID, and each is signed by a
 * rotation key that the previous op listed.
 */
import { fromBase64Url } from '@atcute/multibase'
import { encodeCbor } from '../atproto/cbor.ts'
import { fail } from '../atproto/errors.ts'
import { verifySignature } from '../atproto/keys.ts'
import {
  DID_CF_PREFIX,
  DID_PLC_PREFIX,
  didForGenesis,
  operationCid,
  type SignedOperation,
} from './operation.ts'

export interface AuditEntry {
  did: string
  operation: SignedOperation
  cid: string
  nullified: boolean
  createdAt: string
}

async function signedByOneOf(op: SignedOperation, keys: string[]): Promise<boolean> {
  const { sig, ...unsigned } = op
  let sigBytes: Uint8Array
  try {
    sigBytes = fromBase64Url(sig)
  } catch {
    return false
  }
  const data = encodeCbor(unsigned)
  for (const key of keys) if (await verifySignature(key, data, sigBytes)) return true
  return false
}

/**
 * Verify the whole log and return the op in force at its end. Throws
 * AtprotoError('InvalidSignature' | 'InvalidCommit') naming the first bad entry.
 */
export async function verifyAuditLog(did: string, log: AuditEntry[]): Promise<SignedOperation> {
  const active = log.filter((e) => !e.nullified)
  const genesis = active[0]
  if (!genesis) return fail('InvalidCommit', 'empty operation log')
  if (genesis.operation.prev !== null) fail('InvalidCommit', 'first operation is not a genesis op')
  const prefix = did.startsWith(DID_PLC_PREFIX) ? DID_PLC_PREFIX : DID_CF_PREFIX
  if ((await didForGenesis(genesis.operation, prefix)) !== did)
    fail('InvalidCommit', 'DID does not derive from genesis op')

  let current = genesis.operation
  if (!(await signedByOneOf(current, current.rotationKeys)))
    fail('InvalidSignature', 'genesis op is not signed by its rotation keys')
  for (const [i, entry] of active.entries()) {
    if (entry.did !== did) fail('InvalidCommit', `entry ${i} names another DID`)
    if (entry.cid !== (await operationCid(entry.operation)))
      fail('InvalidCommit', `entry ${i} has a wrong cid`)
    if (i === 0) continue
    const op = entry.operation
    if (op.prev !== (await operationCid(current)))
      fail('InvalidCommit', `entry ${i} does not chain to the one before`)
    if (!(await signedByOneOf(op, current.rotationKeys)))
      fail('InvalidSignature', `entry ${i} is not signed by a rotation key of the previous op`)
    current = op
  }
  return current
}

/** The signing key (did:key) an op names for atproto commits. */
export function atprotoKey(op: SignedOperation): string {
  const key = op.verificationMethods.atproto
  if (!key) return fail('InvalidKey', 'operation names no atproto signing key')
  return key
}

/** A new log entry for `operation`, as the directory stores it. */
export async function auditEntry(did: string, operation: SignedOperation): Promise<AuditEntry> {
  return {
    did,
    operation,
    cid: await operationCid(operation),
    nullified: false,
    createdAt: new Date().toISOString(),
  }
}
