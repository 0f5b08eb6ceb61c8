/**
 * The AgentDO's blob calls, one entry (`AgentDO.blobs`): register an upload's
 * metadata (the agent's session or the operator, on an active account), read
 * one blob's metadata, list the CIDs. The bytes live in R2; the Worker moves
 * them (routes/blobs.ts). The metadata table is agent-blobs.ts.
 */
import { type Outcome, unwrap } from '../http/xrpc.ts'
import type { AgentBlobs, BlobMeta } from './agent-blobs.ts'
import type { AgentAuth } from './agent-state.ts'

export type BlobCall =
  | { op: 'register'; auth: AgentAuth; cid: string; mimeType: string; size: number }
  | { op: 'get'; cid: string }
  | { op: 'list'; limit: number; cursor?: string }

export type BlobReply<C extends BlobCall = BlobCall> = C extends { op: 'register' }
  ? { cid: string }
  : C extends { op: 'get' }
    ? BlobMeta | null
    : { cids: string[]; cursor?: string }

export function blobCall(blobs: AgentBlobs, call: BlobCall): BlobReply {
  switch (call.op) {
    case 'register':
      blobs.register(call.cid, call.mimeType, call.size)
      return { cid: call.cid }
    case 'get':
      return blobs.get(call.cid)
    case 'list':
      return blobs.list(call.limit, call.cursor)
  }
}

/** A blob call through an AgentDO stub, unwrapped; the stub's type loses which reply the call gets. */
export async function callBlobs<C extends BlobCall>(
  stub: { blobs(call: BlobCall): Promise<Outcome<BlobReply>> },
  call: C,
): Promise<BlobReply<C>> {
  return unwrap(await stub.blobs(call)) as BlobReply<C>
}
