/**
 * Blobs: bytes in R2 under their CID, metadata in the agent's object. The R2
 * I/O happens here in the Worker, never while the AgentDO awaits it.
 */
import type { Context } from 'hono'
import { cidForRaw, cidToString, parseCid } from '../../atproto/cid.ts'
import type { Env } from '../../env.ts'
import { boundedBytes, forbidden, invalidRequest, XrpcError } from '../../http/xrpc.ts'
import { callSessions } from '../agent-sessions.ts'
import { actingAgent, agentStub, resolveRepo } from '../agents.ts'
import { callBlobs } from '../blob-calls.ts'

type C = Context<{ Bindings: Env }>

export function blobLimit(env: Env): number {
  const n = Number(env.MURMUR_BLOB_LIMIT)
  return Number.isInteger(n) && n > 0 ? n : 10 * 1024 * 1024
}

export const blobKey = (did: string, cid: string) => `blobs/${did}/${cid}`

export async function uploadBlob(c: C) {
  // The blob lands in the caller's own repo; the operator names one with ?repo=.
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  const stub = agentStub(c.env, did)
  // A revoked session, or an account that cannot write, must not leave bytes in R2 either.
  const account = await callSessions(stub, { op: 'get', auth })
  if (!account.active) throw forbidden(`Account is ${account.status ?? 'not active'}`)
  const mimeType = (c.req.header('content-type') ?? 'application/octet-stream').split(';')[0]!.trim()
  const bytes = await boundedBytes(c.req.raw, blobLimit(c.env))
  if (bytes.length === 0) throw invalidRequest('Blob is empty')
  const cid = cidToString(cidForRaw(bytes))
  await c.env.BLOBS.put(blobKey(did, cid), bytes, { httpMetadata: { contentType: mimeType } })
  await callBlobs(stub, { op: 'register', auth, cid, mimeType, size: bytes.length })
  return c.json({ blob: { $type: 'blob', ref: { $link: cid }, mimeType, size: bytes.length } })
}

export async function getBlob(c: C) {
  const did = await resolveRepo(c.env, c.req.query('did'))
  const raw = c.req.query('cid') ?? ''
  let cid: string
  try {
    cid = cidToString(parseCid(raw))
  } catch {
    throw invalidRequest(`Invalid cid: ${raw}`)
  }
  const meta = await callBlobs(agentStub(c.env, did), { op: 'get', cid })
  const obj = meta ? await c.env.BLOBS.get(blobKey(did, cid)) : null
  if (!meta || !obj) throw new XrpcError(400, 'BlobNotFound', `Blob not found: ${cid}`)
  return new Response(obj.body, {
    headers: {
      'content-type': meta.mimeType,
      'content-length': String(meta.size),
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    },
  })
}
