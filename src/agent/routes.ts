/**
 * The runtime over XRPC, as the agent (its session) or its operator:
 * `agent.runtime.prompt` queues a turn and answers at once with its id;
 * `agent.runtime.getTurn` reports how it stands. The turn itself runs in the
 * turns Queue's consumer (turn-queue.ts).
 */
import { Hono } from 'hono'
import type { Env } from '../env.ts'
import { invalidRequest, jsonBody, unwrap } from '../http/xrpc.ts'
import { actingAgent, agentStub } from '../pds/agents.ts'
import { newTurnId } from './turn-ids.ts'
import type { TurnView } from './turns.ts'

export const runtimeRoutes = new Hono<{ Bindings: Env }>()

/** Longest prompt accepted (it becomes part of the turn's note, whose text is at most 100,000). */
const MAX_PROMPT = 20_000

runtimeRoutes.post('/xrpc/agent.runtime.prompt', async (c) => {
  const body = await jsonBody(c)
  const { did, auth } = await actingAgent(c, typeof body.repo === 'string' ? body.repo : undefined)
  const text = typeof body.text === 'string' ? body.text.trim() : ''
  if (!text) throw invalidRequest('text is required')
  if (text.length > MAX_PROMPT) throw invalidRequest(`text is at most ${MAX_PROMPT} characters`)
  const turn = newTurnId()
  // The row first: a getTurn right after this answers `queued`, and the caller's right to act is checked.
  unwrap(await agentStub(c.env, did).turn(auth, { op: 'create', id: turn, text }))
  await c.env.TURNS.send({ did, turn, text, source: 'prompt' })
  return c.json({ turn })
})

runtimeRoutes.get('/xrpc/agent.runtime.getTurn', async (c) => {
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  const id = c.req.query('turn')
  if (!id) throw invalidRequest('turn is required')
  const {
    text: _text,
    trigger: _trigger,
    ...turn
  } = unwrap(await agentStub(c.env, did).turn(auth, { op: 'get', id }))
  return c.json({ turn: turn satisfies TurnView })
})
