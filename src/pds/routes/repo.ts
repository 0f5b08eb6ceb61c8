/**
 * com.atproto.repo.*: record writes (all through the AgentDO's one write path)
 * and reads, plus uploadBlob. Writes need a session of the repo's own DID, or
 * the admin token; reads are public.
 */
import { type Context, Hono } from 'hono'
import { isDid, isNsid, isRecordKey } from '../../atproto/syntax/index.ts'
import { Directory } from '../../directory/directory.ts'
import type { Env } from '../../env.ts'
import { invalidRequest, jsonBody, optStr, str, unwrap } from '../../http/xrpc.ts'
import { didDocument } from '../../identity/did-document.ts'
import { actingAgent, agentStub, resolveRepo } from '../agents.ts'
import type { CommitSummary, WriteOp, WriteOptions } from '../write-path.ts'
import { uploadBlob } from './blobs.ts'

type C = Context<{ Bindings: Env }>
export const repoRoutes = new Hono<{ Bindings: Env }>()

/** The repo a write targets (the body's `repo`), and the caller's right to write it. */
const writer = (c: C, body: Record<string, unknown>) => actingAgent(c, str(body, 'repo'))

/** The response of a single-record write. */
function recordWritten(c: C, out: CommitSummary) {
  const r = out.results[0]!
  return c.json({ uri: r.uri, cid: r.cid, commit: out.commit, validationStatus: r.validationStatus })
}

function options(body: Record<string, unknown>): WriteOptions {
  const validate = body.validate
  if (validate !== undefined && typeof validate !== 'boolean')
    throw invalidRequest('validate must be a boolean')
  return { validate, swapCommit: optStr(body, 'swapCommit') }
}

function recordOf(body: Record<string, unknown>): Record<string, unknown> {
  const r = body.record
  if (r === null || typeof r !== 'object' || Array.isArray(r))
    throw invalidRequest('record must be an object')
  return r as Record<string, unknown>
}

function swapRecord(body: Record<string, unknown>): string | null | undefined {
  const v = body.swapRecord
  if (v === undefined || v === null) return v
  if (typeof v !== 'string') throw invalidRequest('swapRecord must be a CID string or null')
  return v
}

const MAX_RECORD_BODY = 1024 * 1024 + 64 * 1024
const MAX_APPLY_WRITES_BODY = 16 * 1024 * 1024

repoRoutes.post('/xrpc/com.atproto.repo.createRecord', async (c) => {
  const body = await jsonBody(c, MAX_RECORD_BODY)
  const { did, auth } = await writer(c, body)
  const op: WriteOp = {
    action: 'create',
    collection: str(body, 'collection'),
    rkey: optStr(body, 'rkey'),
    record: recordOf(body),
  }
  return recordWritten(c, unwrap(await agentStub(c.env, did).write(auth, [op], options(body))))
})

repoRoutes.post('/xrpc/com.atproto.repo.putRecord', async (c) => {
  const body = await jsonBody(c, MAX_RECORD_BODY)
  const { did, auth } = await writer(c, body)
  const op: WriteOp = {
    action: 'update',
    collection: str(body, 'collection'),
    rkey: str(body, 'rkey'),
    record: recordOf(body),
    swapRecord: swapRecord(body),
  }
  return recordWritten(c, unwrap(await agentStub(c.env, did).write(auth, [op], options(body))))
})

repoRoutes.post('/xrpc/com.atproto.repo.deleteRecord', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await writer(c, body)
  const op: WriteOp = {
    action: 'delete',
    collection: str(body, 'collection'),
    rkey: str(body, 'rkey'),
    swapRecord: swapRecord(body),
  }
  const out = unwrap(await agentStub(c.env, did).write(auth, [op], options(body)))
  return c.json({ commit: out.commit })
})

const WRITE_TYPES: Record<string, WriteOp['action']> = {
  'com.atproto.repo.applyWrites#create': 'create',
  'com.atproto.repo.applyWrites#update': 'update',
  'com.atproto.repo.applyWrites#delete': 'delete',
}

repoRoutes.post('/xrpc/com.atproto.repo.applyWrites', async (c) => {
  // Far below 200 × 1 MB: a Worker has 128 MB of memory, and a batch that large is no longer one request's work.
  const body = await jsonBody(c, MAX_APPLY_WRITES_BODY)
  const { did, auth } = await writer(c, body)
  if (!Array.isArray(body.writes)) throw invalidRequest('writes must be an array')
  const ops = body.writes.map((w: unknown, i: number): WriteOp => {
    if (w === null || typeof w !== 'object') throw invalidRequest(`writes/${i} must be an object`)
    const o = w as Record<string, unknown>
    const action = WRITE_TYPES[String(o.$type)]
    if (!action) throw invalidRequest(`writes/${i} has an unknown $type`)
    const rkey = action === 'create' ? optStr(o, 'rkey') : str(o, 'rkey')
    return action === 'delete'
      ? { action, collection: str(o, 'collection'), rkey }
      : { action, collection: str(o, 'collection'), rkey, record: recordOf({ record: o.value }) }
  })
  const out = unwrap(await agentStub(c.env, did).write(auth, ops, options(body)))
  const results = out.results.map((r, i) =>
    ops[i]!.action === 'delete'
      ? { $type: 'com.atproto.repo.applyWrites#deleteResult' }
      : {
          $type: `com.atproto.repo.applyWrites#${ops[i]!.action}Result`,
          uri: r.uri,
          cid: r.cid,
          validationStatus: r.validationStatus,
        },
  )
  return c.json({ commit: out.commit, results })
})

repoRoutes.get('/xrpc/com.atproto.repo.getRecord', async (c) => {
  const did = await resolveRepo(c.env, c.req.query('repo'))
  const { collection, rkey } = recordParams(c)
  return c.json(
    unwrap(await agentStub(c.env, did).getRecord(collection, rkey, c.req.query('cid') || undefined)),
  )
})

export function recordParams(c: C): { collection: string; rkey: string } {
  const collection = c.req.query('collection') ?? ''
  const rkey = c.req.query('rkey') ?? ''
  if (!isNsid(collection)) throw invalidRequest(`Invalid collection: ${collection}`)
  if (!isRecordKey(rkey)) throw invalidRequest(`Invalid rkey: ${rkey}`)
  return { collection, rkey }
}

export function limitParam(c: C, max: number, fallback: number): number {
  const raw = c.req.query('limit')
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw invalidRequest(`limit must be an integer from 1 to ${max}`)
  return n
}

/** A cursor for listings ordered by DID: the last DID of the page before. */
export function didCursor(c: C): string | undefined {
  const cursor = c.req.query('cursor') || undefined
  if (cursor !== undefined && !isDid(cursor)) throw invalidRequest('Invalid cursor')
  return cursor
}

repoRoutes.get('/xrpc/com.atproto.repo.listRecords', async (c) => {
  const did = await resolveRepo(c.env, c.req.query('repo'))
  const collection = c.req.query('collection') ?? ''
  if (!isNsid(collection)) throw invalidRequest(`Invalid collection: ${collection}`)
  const reverse = c.req.query('reverse')
  if (reverse !== undefined && reverse !== 'true' && reverse !== 'false')
    throw invalidRequest('reverse must be a boolean')
  const cursor = c.req.query('cursor') || undefined
  if (cursor !== undefined && !isRecordKey(cursor)) throw invalidRequest('Invalid cursor')
  const opts = { limit: limitParam(c, 100, 50), cursor, reverse: reverse === 'true' }
  return c.json(unwrap(await agentStub(c.env, did).listRecords(collection, opts)))
})

repoRoutes.get('/xrpc/com.atproto.repo.describeRepo', async (c) => {
  const did = await resolveRepo(c.env, c.req.query('repo'))
  const stub = agentStub(c.env, did)
  const head = unwrap(await stub.head())
  const op = await new Directory(c.env.DB).currentOp(did)
  return c.json({
    handle: head.handle,
    did,
    didDoc: op ? didDocument(did, op) : {},
    collections: unwrap(await stub.collections()),
    handleIsCorrect: true,
  })
})

repoRoutes.post('/xrpc/com.atproto.repo.uploadBlob', uploadBlob)
