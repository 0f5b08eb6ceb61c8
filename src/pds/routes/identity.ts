/**
 * Identity resolution: handles and did:cf documents, PLC-directory style.
 * `GET /did/<did>`, `GET /did/<did>/log/audit`, `resolveHandle`, `resolveDid`,
 * and `/.well-known/atproto-did` on a handle's host.
 */
import { Hono } from 'hono'
import { isDid, isHandle, normalizeHandle } from '../../atproto/syntax/index.ts'
import { Directory } from '../../directory/directory.ts'
import type { Env } from '../../env.ts'
import { invalidRequest, XrpcError } from '../../http/xrpc.ts'
import { didDocument } from '../../identity/did-document.ts'

export const identityRoutes = new Hono<{ Bindings: Env }>()

async function documentFor(env: Env, did: string) {
  if (!isDid(did)) throw invalidRequest(`Invalid DID: ${did}`)
  const op = await new Directory(env.DB).currentOp(did)
  if (!op) throw new XrpcError(404, 'DidNotFound', `DID not registered: ${did}`)
  return didDocument(did, op)
}

identityRoutes.get('/did/:did', async (c) => c.json(await documentFor(c.env, c.req.param('did'))))

identityRoutes.get('/did/:did/log/audit', async (c) => {
  const did = c.req.param('did')
  if (!isDid(did)) throw invalidRequest(`Invalid DID: ${did}`)
  const log = await new Directory(c.env.DB).auditLog(did)
  if (log.length === 0) throw new XrpcError(404, 'DidNotFound', `DID not registered: ${did}`)
  return c.json(log)
})

identityRoutes.get('/xrpc/com.atproto.identity.resolveDid', async (c) => {
  const did = c.req.query('did') ?? ''
  return c.json({ didDoc: await documentFor(c.env, did) })
})

identityRoutes.get('/xrpc/com.atproto.identity.resolveHandle', async (c) => {
  const handle = normalizeHandle(c.req.query('handle') ?? '')
  if (!isHandle(handle)) throw invalidRequest(`Invalid handle: ${handle}`)
  const agent = await new Directory(c.env.DB).byHandle(handle)
  if (!agent || agent.status === 'deleted')
    throw new XrpcError(400, 'HandleNotFound', `Unable to resolve handle: ${handle}`)
  return c.json({ did: agent.did })
})

identityRoutes.get('/.well-known/atproto-did', async (c) => {
  const host = new URL(c.req.url).hostname.toLowerCase()
  const agent = isHandle(host) ? await new Directory(c.env.DB).byHandle(host) : null
  if (!agent || agent.status === 'deleted') return c.text('no agent at this host', 404)
  return c.text(agent.did)
})
