/**
 * Resolving a DID that another host serves, without trusting that host: the
 * operation log (did:cf from the host's own directory, did:plc from a PLC
 * directory) is verified offline, and the op in force names the signing key
 * and the PDS.
 */
import { fail } from '../atproto/errors.ts'
import { type AuditEntry, atprotoKey, verifyAuditLog } from './audit.ts'
import { DID_CF_PREFIX, DID_PLC_PREFIX } from './operation.ts'

export interface VerifiedIdentity {
  /** did:key of the atproto signing key. */
  signingKey: string
  /** The `atproto_pds` service endpoint. */
  pds: string
}

/** Where a DID's operation log lives: did:cf on its host, did:plc on the PLC directory. */
export function auditLogUrl(did: string, hostUrl: string, plcUrl: string): string {
  if (did.startsWith(DID_CF_PREFIX)) return `${hostUrl}/did/${did}/log/audit`
  if (did.startsWith(DID_PLC_PREFIX)) return `${plcUrl.replace(/\/$/, '')}/${did}/log/audit`
  return fail('InvalidDid', `cannot resolve ${did.split(':').slice(0, 2).join(':')} DIDs`)
}

function isAuditLog(v: unknown): v is AuditEntry[] {
  return (
    Array.isArray(v) &&
    v.every(
      (e) =>
        e !== null &&
        typeof e === 'object' &&
        typeof e.did === 'string' &&
        typeof e.cid === 'string' &&
        e.operation !== null &&
        typeof e.operation === 'object' &&
        e.operation.type === 'plc_operation',
    )
  )
}

/** Verify a fetched log and read the identity it ends in. */
export async function identityFromAuditLog(did: string, log: unknown): Promise<VerifiedIdentity> {
  if (!isAuditLog(log)) return fail('InvalidDid', 'the operation log is malformed')
  const op = await verifyAuditLog(did, log)
  const pds = op.services.atproto_pds?.endpoint
  if (typeof pds !== 'string') return fail('InvalidDid', 'the DID names no atproto PDS')
  return { signingKey: atprotoKey(op), pds }
}
