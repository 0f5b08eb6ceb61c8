/** com.atproto.repo.importRepo: a CAR body restores or moves an agent's repo. */
import { Hono } from 'hono'
import type { Env } from '../../env.ts'
import { boundedBytes, invalidRequest, unwrap } from '../../http/xrpc.ts'
import { actingAgent, agentStub } from '../agents.ts'

export const importRoutes = new Hono<{ Bindings: Env }>()

const MAX_IMPORT = 256 * 1024 * 1024

importRoutes.post('/xrpc/com.atproto.repo.importRepo', async (c) => {
  const type = c.req.header('content-type') ?? ''
  if (!type.startsWith('application/vnd.ipld.car'))
    throw invalidRequest('Expected a CAR (application/vnd.ipld.car)')
  // The session's own repo; the operator names one with ?repo=.
  const { did, auth } = await actingAgent(c, c.req.query('repo'))
  const car = await boundedBytes(c.req.raw, MAX_IMPORT)
  const out = unwrap(await agentStub(c.env, did).importCar(auth, car))
  return c.json(out.commit ? { commit: out.commit } : {})
})
