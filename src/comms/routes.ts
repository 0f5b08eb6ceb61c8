/**
 * The inbox over XRPC, as the agent (its session) or the operator:
 * `agent.comms.listInbox`, `agent.comms.ackInbox`; the operator's view
 * of deliveries that could not be made, `agent.admin.listDeadLetters`; and
 * tasks, public like the records they are built from: `agent.comms.getTask`,
 * `agent.comms.listTasks`.
 */
import { Hono } from 'hono'
import { isDid, isNsid, parseAtUri } from '../atproto/syntax/index.ts'
import type { Env } from '../env.ts'
import { requireAdmin } from '../http/auth.ts'
import { invalidRequest, jsonBody, unwrap, XrpcError } from '../http/xrpc.ts'
import { actingAgent, agentStub } from '../pds/agents.ts'
import { limitParam } from '../pds/routes/repo.ts'
import { routerStub } from './router-do.ts'
import { listTaskViews, taskView } from './task-view.ts'
import { REQUEST } from './tasks.ts'
import { topicsProblem } from './topics.ts'

export const commsRoutes = new Hono<{ Bindings: Env }>()

function idCursor(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^\d{1,15}$/.test(raw)) throw invalidRequest('cursor must come from a previous page')
  return Number(raw)
}

commsRoutes.get('/xrpc/agent.comms.listInbox', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  const collection = c.req.query('collection') || undefined
  if (collection !== undefined && !isNsid(collection)) throw invalidRequest('collection must be an NSID')
  const unread = c.req.query('unreadOnly')
  if (unread !== undefined && unread !== 'true' && unread !== 'false')
    throw invalidRequest('unreadOnly must be true or false')
  const q = {
    limit: limitParam(c, 100, 50),
    cursor: idCursor(c.req.query('cursor')),
    collection,
    unreadOnly: unread === 'true',
  }
  return c.json(unwrap(await agentStub(c.env, did).inbox(auth, { op: 'list', query: q })))
})

commsRoutes.post('/xrpc/agent.comms.ackInbox', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  const uris = body.uris
  if (
    !Array.isArray(uris) ||
    uris.length === 0 ||
    uris.length > 100 ||
    !uris.every((u) => typeof u === 'string' && u.startsWith('at://'))
  )
    throw invalidRequest('uris must be 1 to 100 at-uris')
  return c.json(unwrap(await agentStub(c.env, did).inbox(auth, { op: 'ack', uris: uris as string[] })))
})

commsRoutes.get('/xrpc/agent.admin.listDeadLetters', async (c) => {
  await requireAdmin(c)
  const after = idCursor(c.req.query('cursor'))
  const limit = limitParam(c, 100, 50)
  const items = await routerStub(c.env).deadLetters(limit, after)
  return c.json(items.length === limit ? { items, cursor: String(items.at(-1)!.id) } : { items })
})

commsRoutes.get('/xrpc/agent.comms.getTask', async (c) => {
  const uri = c.req.query('uri') ?? ''
  let parsed: ReturnType<typeof parseAtUri> | undefined
  try {
    parsed = parseAtUri(uri)
  } catch {
    parsed = undefined
  }
  if (!parsed || !isDid(parsed.authority) || parsed.collection !== REQUEST || !parsed.rkey)
    throw invalidRequest(`uri must be the at-uri of an ${REQUEST} record, with a DID`)
  return c.json(await taskView(c.env, uri))
})

/** Task states are an open set (knownValues); any short token may be asked for. */
const STATE = /^[a-z][a-z0-9-]{0,63}$/

commsRoutes.get('/xrpc/agent.comms.listTasks', async (c) => {
  const did = (name: string) => {
    const v = c.req.query(name) || undefined
    if (v !== undefined && !isDid(v)) throw invalidRequest(`${name} must be a DID`)
    return v
  }
  const state = c.req.query('state') || undefined
  if (state !== undefined && !STATE.test(state)) throw invalidRequest('state must be a task state')
  const q = {
    sender: did('sender'),
    assignee: did('assignee'),
    state,
    limit: limitParam(c, 100, 50),
    cursor: idCursor(c.req.query('cursor')),
  }
  return c.json(await listTaskViews(c.env, q))
})

/**
 * The inbox push (inbox-push.ts): a WebSocket of newly accepted items, for
 * the agent's session (Authorization header) or the operator with `repo`.
 */
commsRoutes.get('/xrpc/agent.comms.subscribeInbox', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
    throw new XrpcError(426, 'InvalidRequest', 'subscribeInbox is a WebSocket subscription')
  const stub = agentStub(c.env, did)
  unwrap(await stub.inbox(auth, { op: 'access' }))
  return stub.fetch('https://agent.internal/inbox', { headers: c.req.raw.headers })
})

/** Topic subscriptions: a broadcast to a tag reaches the agents that set it (topics.ts). */
commsRoutes.post('/xrpc/agent.comms.setTopics', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  const problem = topicsProblem(body.topics)
  if (problem) throw invalidRequest(problem)
  unwrap(await agentStub(c.env, did).inbox(auth, { op: 'access' }))
  return c.json({ topics: await routerStub(c.env).setTopics(did, body.topics as string[]) })
})

commsRoutes.get('/xrpc/agent.comms.getTopics', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  unwrap(await agentStub(c.env, did).inbox(auth, { op: 'access' }))
  return c.json({ topics: await routerStub(c.env).topicsOf(did) })
})
