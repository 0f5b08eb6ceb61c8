/**
 * Accounts and sessions, as `@atproto/api`'s AtpAgent expects them:
 * createAccount (admin), createSession, refreshSession, getSession, deleteSession,
 * plus activate/deactivate/delete and the agent listing for operators.
 */
import { type Context, Hono } from 'hono'
import { generateKeypair, parseDidKeyString } from '../../atproto/keys.ts'
import { isDid, isHandle, normalizeHandle } from '../../atproto/syntax/index.ts'
import { Directory } from '../../directory/directory.ts'
import { type Env, networkDomain, publicUrl, serviceDid } from '../../env.ts'
import { caller, requireAdmin, requireCaller } from '../../http/auth.ts'
import { invalidRequest, jsonBody, optStr, str, unwrap, XrpcError } from '../../http/xrpc.ts'
import { didDocument } from '../../identity/did-document.ts'
import { createIdentity, rotateSigningKey } from '../../identity/network.ts'
import { callSessions } from '../agent-sessions.ts'
import { agentStub, forgetAgent, resolveRepo } from '../agents.ts'
import { didCursor, limitParam } from './repo.ts'

type C = Context<{ Bindings: Env }>
export const serverRoutes = new Hono<{ Bindings: Env }>()

const aud = (c: C) => serviceDid(publicUrl(c.env, c.req.url))

/** Session responses carry the DID document, so AtpAgent follows it to our PDS endpoint. */
async function sessionView(c: C, did: string, body: Record<string, unknown>) {
  const op = await new Directory(c.env.DB).currentOp(did)
  return { ...body, ...(op ? { didDoc: didDocument(did, op) } : {}) }
}

serverRoutes.post('/xrpc/com.atproto.server.createAccount', async (c) => {
  await requireAdmin(c)
  const body = await jsonBody(c)
  const domain = networkDomain(c.env)
  let handle = normalizeHandle(str(body, 'handle'))
  if (!handle.includes('.')) handle = `${handle}.${domain}`
  if (!isHandle(handle)) throw new XrpcError(400, 'InvalidHandle', `Invalid handle: ${handle}`)
  if (!handle.endsWith(`.${domain}`))
    throw new XrpcError(400, 'InvalidHandle', `Handle must end in .${domain}`)
  const password = optStr(body, 'password')
  if (password !== undefined && password.length < 8)
    throw invalidRequest('password must be at least 8 characters')
  const dir = new Directory(c.env.DB)
  if (await dir.byHandle(handle))
    throw new XrpcError(400, 'HandleNotAvailable', `Handle already taken: ${handle}`)

  const recoveryKey = optStr(body, 'recoveryKey')
  if (recoveryKey !== undefined) {
    try {
      parseDidKeyString(recoveryKey)
    } catch {
      throw invalidRequest('recoveryKey must be a did:key')
    }
  }
  const signing = await generateKeypair('p256')
  const { did, genesis } = await createIdentity(c.env, {
    signingKey: signing.did,
    handle,
    pdsEndpoint: publicUrl(c.env, c.req.url),
    recoveryKey,
  })
  const stub = agentStub(c.env, did)
  unwrap(
    await stub.create({ did, handle, keyType: 'p256', privateKey: await signing.exportPrivate(), password }),
  )
  if (!(await dir.register(did, handle, genesis)))
    throw new XrpcError(400, 'HandleNotAvailable', `Handle already taken: ${handle}`)
  const tokens = password ? await callSessions(stub, { op: 'login', password, aud: aud(c) }) : null
  return c.json(
    await sessionView(c, did, {
      did,
      handle,
      ...(tokens ? { accessJwt: tokens.accessJwt, refreshJwt: tokens.refreshJwt } : {}),
    }),
  )
})

serverRoutes.post('/xrpc/com.atproto.server.createSession', async (c) => {
  const body = await jsonBody(c)
  const identifier = str(body, 'identifier')
  const password = str(body, 'password')
  let did: string
  try {
    did = await resolveRepo(c.env, isDid(identifier) ? identifier : normalizeHandle(identifier))
  } catch {
    throw new XrpcError(401, 'AuthenticationRequired', 'Invalid identifier or password')
  }
  const s = await callSessions(agentStub(c.env, did), { op: 'login', password, aud: aud(c) })
  return c.json(await sessionView(c, did, { ...s, active: true }))
})

serverRoutes.post('/xrpc/com.atproto.server.refreshSession', async (c) => {
  const who = await requireCaller(c, 'com.atproto.refresh')
  if (who.kind !== 'session') throw new XrpcError(400, 'InvalidToken', 'A refresh token is required')
  const s = await callSessions(agentStub(c.env, who.did), {
    op: 'refresh',
    sid: who.sid,
    jti: who.claims.jti,
    aud: aud(c),
  })
  return c.json(await sessionView(c, who.did, { ...s, active: true }))
})

serverRoutes.get('/xrpc/com.atproto.server.getSession', async (c) => {
  const who = await requireCaller(c)
  if (who.kind !== 'session') throw new XrpcError(400, 'InvalidToken', 'A session token is required')
  const s = await callSessions(agentStub(c.env, who.did), {
    op: 'get',
    auth: { kind: 'session', sid: who.sid },
  })
  return c.json(await sessionView(c, who.did, s))
})

serverRoutes.post('/xrpc/com.atproto.server.deleteSession', async (c) => {
  const who = await requireCaller(c, 'com.atproto.refresh')
  if (who.kind !== 'session') throw new XrpcError(400, 'InvalidToken', 'A refresh token is required')
  await callSessions(agentStub(c.env, who.did), { op: 'logout', sid: who.sid })
  return c.body(null, 200)
})

/** The DID an account call acts on: the session's own, or any (with `did`) for the operator. */
async function accountTarget(c: C): Promise<string> {
  const who = await caller(c)
  if (!who) throw new XrpcError(401, 'AuthRequired', 'Authentication required')
  const body = c.req.header('content-type')?.startsWith('application/json') ? await jsonBody(c) : {}
  if (who.kind === 'admin') return resolveRepo(c.env, optStr(body, 'did'))
  const live = await callSessions(agentStub(c.env, who.did), {
    op: 'get',
    auth: { kind: 'session', sid: who.sid },
  })
  return live.did
}

for (const [method, status] of [
  ['deactivateAccount', 'deactivated'],
  ['activateAccount', 'active'],
] as const) {
  serverRoutes.post(`/xrpc/com.atproto.server.${method}`, async (c) => {
    const did = await accountTarget(c)
    unwrap(await agentStub(c.env, did).setStatus(status))
    await new Directory(c.env.DB).setStatus(did, status)
    return c.body(null, 200)
  })
}

serverRoutes.post('/xrpc/agent.admin.deleteAccount', async (c) => {
  await requireAdmin(c)
  const did = await resolveRepo(c.env, optStr(await jsonBody(c), 'did'))
  unwrap(await agentStub(c.env, did).setStatus('deleted'))
  await new Directory(c.env.DB).setStatus(did, 'deleted')
  forgetAgent(did)
  return c.json({ did, status: 'deleted' })
})

serverRoutes.get('/xrpc/agent.admin.listAgents', async (c) => {
  await requireAdmin(c)
  const limit = limitParam(c, 1000, 50)
  const rows = await new Directory(c.env.DB).list(limit, didCursor(c))
  return c.json({
    agents: rows,
    ...(rows.length === limit ? { cursor: rows.at(-1)!.did } : {}),
  })
})

serverRoutes.post('/xrpc/agent.admin.rotateSigningKey', async (c) => {
  await requireAdmin(c)
  const did = await resolveRepo(c.env, optStr(await jsonBody(c), 'did'))
  const next = await generateKeypair('p256')
  await rotateSigningKey(c.env, did, next.did)
  unwrap(await agentStub(c.env, did).setSigningKey('p256', await next.exportPrivate()))
  return c.json({ did, signingKey: next.did })
})
