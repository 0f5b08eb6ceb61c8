/**
 * Who is calling: the operator (admin bearer token) or an agent's session
 * (an access JWT). Session liveness (revocation) is checked by the agent's
 * object, which owns its sessions.
 */
import { timingSafeEquals } from '@atcute/uint8array'
import type { Context } from 'hono'
import { type TokenClaims, type TokenScope, verifyToken } from '../auth/jwt.ts'
import { tokenKey } from '../auth/secret.ts'
import type { Env } from '../env.ts'
import { authRequired, XrpcError } from './xrpc.ts'

export type Caller = { kind: 'admin' } | { kind: 'session'; did: string; sid: string; claims: TokenClaims }

const keys = new Map<string, Promise<CryptoKey>>()

/** The token key, derived once per isolate and secret. */
export function sessionKey(env: Env): Promise<CryptoKey> {
  const secret = networkSecret(env)
  let k = keys.get(secret)
  if (!k) {
    k = tokenKey(secret)
    keys.set(secret, k)
  }
  return k
}

export function networkSecret(env: Env): string {
  if (!env.MURMUR_SECRET)
    throw new XrpcError(500, 'InternalServerError', 'The network secret is not configured')
  return env.MURMUR_SECRET
}

function bearer(c: Context): string | null {
  const h = c.req.header('authorization')
  if (!h) return null
  const m = /^Bearer (.+)$/i.exec(h)
  if (!m) throw authRequired('Authorization must be a Bearer token')
  return m[1]!
}

function isAdminToken(env: Env, token: string): boolean {
  const admin = env.MURMUR_ADMIN_TOKEN
  if (!admin) return false
  const enc = new TextEncoder()
  return timingSafeEquals(enc.encode(admin), enc.encode(token))
}

/** The caller, or null when no credentials were sent. Bad credentials are a 401. */
export async function caller(c: Context<{ Bindings: Env }>, scope: TokenScope = 'com.atproto.access') {
  const token = bearer(c)
  if (token === null) return null
  if (scope === 'com.atproto.access' && isAdminToken(c.env, token)) return { kind: 'admin' } as const
  const claims = await verifyToken(await sessionKey(c.env), token, scope)
  if (claims === 'expired') throw new XrpcError(400, 'ExpiredToken', 'Token has expired')
  if (typeof claims === 'string') throw new XrpcError(401, 'InvalidToken', 'Token could not be verified')
  return { kind: 'session', did: claims.sub, sid: claims.sid, claims } as const
}

export async function requireCaller(c: Context<{ Bindings: Env }>, scope?: TokenScope): Promise<Caller> {
  const who = await caller(c, scope)
  if (!who) throw authRequired()
  return who
}

export async function requireAdmin(c: Context<{ Bindings: Env }>): Promise<void> {
  const who = await caller(c)
  if (who?.kind !== 'admin') throw authRequired('This call needs the admin token')
}
