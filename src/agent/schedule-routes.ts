/**
 * Schedules over XRPC, as the agent (its session) or its operator:
 * `agent.admin.schedule` adds one (a cron expression in UTC, or one `at`
 * instant), `agent.admin.listSchedules` lists them with their next firing and
 * latest turn, `agent.admin.deleteSchedule` removes one. The firings are the
 * AgentDO alarm's (schedule-alarm.ts); the turns run in the turns Queue.
 */
import { Hono } from 'hono'
import type { Env } from '../env.ts'
import { invalidRequest, jsonBody, optStr, unwrap } from '../http/xrpc.ts'
import { actingAgent, agentStub } from '../pds/agents.ts'

export const scheduleRoutes = new Hono<{ Bindings: Env }>()

scheduleRoutes.post('/xrpc/agent.admin.schedule', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, optStr(body, 'repo'))
  if (typeof body.text !== 'string') throw invalidRequest('text is required')
  const call = { op: 'add' as const, text: body.text, cron: optStr(body, 'cron'), at: optStr(body, 'at') }
  return c.json(unwrap(await agentStub(c.env, did).schedule(auth, call)))
})

scheduleRoutes.get('/xrpc/agent.admin.listSchedules', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  return c.json(unwrap(await agentStub(c.env, did).schedule(auth, { op: 'list' })))
})

scheduleRoutes.post('/xrpc/agent.admin.deleteSchedule', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, optStr(body, 'repo'))
  const id = optStr(body, 'id')
  if (!id) throw invalidRequest('id is required')
  return c.json(unwrap(await agentStub(c.env, did).schedule(auth, { op: 'delete', id })))
})
