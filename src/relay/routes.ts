/**
 * The firehose over XRPC: `com.atproto.sync.subscribeRepos`. The Worker checks
 * the parameters (a malformed cursor is a 400 before any upgrade) and hands
 * the WebSocket upgrade to the RelayDO, which keeps the socket (hibernating).
 * The Jetstream-compatible JSON stream (`GET /subscribe`, jetstream.ts) goes
 * the same way.
 */
import { Hono } from 'hono'
import type { Env } from '../env.ts'
import { invalidRequest, XrpcError } from '../http/xrpc.ts'
import { parseSubscribeQuery } from './jetstream.ts'
import { relayStub } from './relay-do.ts'

export const relayRoutes = new Hono<{ Bindings: Env }>()

/** A cursor is a non-negative integer seq; absent or empty (as @atproto/sync sends it) means live. */
export function parseCursor(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(n))
    throw invalidRequest('cursor must be a non-negative integer')
  return n
}

relayRoutes.get('/xrpc/com.atproto.sync.subscribeRepos', (c) => {
  const cursor = parseCursor(c.req.query('cursor'))
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
    throw new XrpcError(426, 'InvalidRequest', 'subscribeRepos is a WebSocket subscription')
  const url = new URL('https://relay.internal/subscribeRepos')
  if (cursor !== undefined) url.searchParams.set('cursor', String(cursor))
  return relayStub(c.env).fetch(url, { headers: c.req.raw.headers })
})

relayRoutes.get('/subscribe', (c) => {
  const url = new URL(c.req.url)
  parseSubscribeQuery(url.searchParams)
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
    throw new XrpcError(426, 'InvalidRequest', '/subscribe is a WebSocket subscription')
  return relayStub(c.env).fetch(`https://relay.internal/subscribe${url.search}`, {
    headers: c.req.raw.headers,
  })
})
