/**
 * The inbox over XRPC, as the agent (its session) or the operator:
 * `agent.comms.listInbox`, `agent.comms.ackInbox`; and the operator's view
 * of deliveries that could not be made, `agent.admin.listDeadLetters`.
 */
import { Hono } from 'hono'
import { isNsid } from '../atproto/syntax/index.ts'
import type { Env } from '../env.ts'
import { requireAdmin } from '../http/auth.ts'
import { invalidRequest, jsonBody, unwrap } from '../http/xrpc.ts'
import { actingAgent, agentStub } from '../pds/agents.ts'
import { limitParam } from '../pds/routes/repo.ts'
import { routerStub } from './router-do.ts'

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
  return c.json(unwrap(await agentStub(c.env, did).listInbox(auth, q)))
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
  return c.json(unwrap(await agentStub(c.env, did).ackInbox(auth, uris as string[])))
})

commsRoutes.get('/xrpc/agent.admin.listDeadLetters', async (c) => {
  await requireAdmin(c)
  const after = idCursor(c.req.query('cursor'))
  const limit = limitParam(c, 100, 50)
  const items = await routerStub(c.env).deadLetters(limit, after)
  return c.json(items.length === limit ? { items, cursor: String(items.at(-1)!.id) } : { items })
})
