/**
 * Memory over XRPC, as the agent (its session) or its operator:
 * `agent.memory.remember`, `search`, `get`, `forget`, retention
 * (`getRetention`, `setRetention`, `runRetention`), `getIndexStatus`, the operator's
 * `agent.admin.reindex`, and `agent.memory.searchNetwork` over what agents
 * shared.
 */
import { type Context, Hono } from 'hono'
import { AtprotoError } from '../atproto/errors.ts'
import { isDatetime, parseAtUri } from '../atproto/syntax/index.ts'
import type { Env } from '../env.ts'
import { requireAdmin, requireCaller } from '../http/auth.ts'
import { invalidRequest, jsonBody, unwrap } from '../http/xrpc.ts'
import { actingAgent, agentStub, resolveRepo } from '../pds/agents.ts'
import { limitParam } from '../pds/routes/repo.ts'
import { INDEXED } from './memory-text.ts'
import { networkMemoryStub } from './network-memory-do.ts'
import { parsePolicy } from './retention.ts'
import type { SearchQuery } from './search.ts'

export const memoryRoutes = new Hono<{ Bindings: Env }>()
type C = Context<{ Bindings: Env }>

const MAX_QUERY = 1000

/** `q`, `collections` (repeated or comma-separated), `limit`, `since` from the query string. */
function searchQuery(c: C): SearchQuery {
  const q = c.req.query('q')?.trim()
  if (!q) throw invalidRequest('q is required')
  if (q.length > MAX_QUERY) throw invalidRequest(`q is at most ${MAX_QUERY} characters`)
  const collections = (c.req.queries('collections') ?? []).flatMap((v) => v.split(',')).filter(Boolean)
  for (const col of collections)
    if (!INDEXED.includes(col))
      throw invalidRequest(`collections: ${col} is not one of ${INDEXED.join(', ')}`)
  const sinceRaw = c.req.query('since')
  if (sinceRaw !== undefined && !isDatetime(sinceRaw)) throw invalidRequest('since must be a datetime')
  return {
    q,
    limit: limitParam(c, 100, 10),
    ...(collections.length ? { collections } : {}),
    ...(sinceRaw !== undefined ? { since: Date.parse(sinceRaw) } : {}),
  }
}

/** A memory's at-uri in the acting agent's repo. */
async function memoryUri(c: C, raw: unknown, repo: unknown) {
  if (typeof raw !== 'string') throw invalidRequest('uri is required')
  let uri: ReturnType<typeof parseAtUri>
  try {
    uri = parseAtUri(raw)
  } catch (err) {
    if (err instanceof AtprotoError) throw invalidRequest(err.message)
    throw err
  }
  if (!uri.collection || !uri.rkey) throw invalidRequest('uri must name a record')
  const acting = await actingAgent(c, typeof repo === 'string' ? repo : uri.authority)
  if ((await resolveRepo(c.env, uri.authority)) !== acting.did)
    throw invalidRequest('uri must be in the acting agent’s repo')
  return { ...acting, collection: uri.collection, rkey: uri.rkey }
}

memoryRoutes.post('/xrpc/agent.memory.remember', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  const record = body.record
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    throw invalidRequest('record must be an object')
  return c.json(
    unwrap(
      await agentStub(c.env, did).memory(auth, { op: 'remember', record: record as Record<string, unknown> }),
    ),
  )
})

memoryRoutes.get('/xrpc/agent.memory.search', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  const query = searchQuery(c)
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'search', query })))
})

memoryRoutes.get('/xrpc/agent.memory.get', async (c) => {
  const { did, auth, collection, rkey } = await memoryUri(c, c.req.query('uri'), c.req.query('repo'))
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'get', collection, rkey })))
})

memoryRoutes.post('/xrpc/agent.memory.forget', async (c) => {
  const body = await jsonBody(c)
  const { did, auth, collection, rkey } = await memoryUri(c, body.uri, body.repo)
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'forget', collection, rkey })))
})

memoryRoutes.get('/xrpc/agent.memory.getRetention', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'retention' })))
})

memoryRoutes.post('/xrpc/agent.memory.setRetention', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  const policy = parsePolicy(body.policy)
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'retention', policy })))
})

memoryRoutes.post('/xrpc/agent.memory.runRetention', async (c) => {
  const body = await jsonBody(c)
  const steps = body.maxSteps ?? 10
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > 50)
    throw invalidRequest('maxSteps must be an integer from 1 to 50')
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'retention', run: steps })))
})

memoryRoutes.post('/xrpc/agent.admin.reindex', async (c) => {
  await requireAdmin(c)
  const body = await jsonBody(c)
  const did = await resolveRepo(c.env, typeof body.did === 'string' ? body.did : undefined)
  return c.json(unwrap(await agentStub(c.env, did).memory({ kind: 'admin' }, { op: 'reindex' })))
})

memoryRoutes.get('/xrpc/agent.memory.getIndexStatus', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  return c.json(unwrap(await agentStub(c.env, did).memory(auth, { op: 'status' })))
})

memoryRoutes.get('/xrpc/agent.memory.searchNetwork', async (c) => {
  // Shared memories are public, but each search costs an embedding: callers are agents or the operator.
  await requireCaller(c)
  const query = searchQuery(c)
  return c.json(unwrap(await networkMemoryStub(c.env).search(query)))
})
