/**
 * The firehose over XRPC: `com.atproto.sync.subscribeRepos`. The Worker checks
 * the parameters (a malformed cursor is a 400 before any upgrade) and hands
 * the WebSocket upgrade to the RelayDO, which keeps the socket (hibernating).
 * The Jetstream-compatible JSON stream (`GET /subscribe`, jetstream.ts) goes
 * the same way. `requestCrawl` and `getHostStatus` start and report
 * following other hosts (crawler-do.ts).
 */
import { Hono } from 'hono'
import { type Env, publicUrl } from '../env.ts'
import { requireAdmin } from '../http/auth.ts'
import { invalidRequest, jsonBody, str, XrpcError } from '../http/xrpc.ts'
import { crawlerStub, isCrawlHostname } from './crawler-do.ts'
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

/**
 * Follow another host's firehose (crawler-do.ts). Operator only: it makes
 * this network open an outbound connection to a host of the caller's choice.
 */
relayRoutes.post('/xrpc/com.atproto.sync.requestCrawl', async (c) => {
  await requireAdmin(c)
  const hostname = str(await jsonBody(c), 'hostname').toLowerCase()
  if (!isCrawlHostname(hostname)) throw invalidRequest('hostname must be host or host:port')
  const self = [new URL(c.req.url).host, new URL(publicUrl(c.env, c.req.url)).host]
  if (self.includes(hostname)) throw invalidRequest('a network does not crawl itself')
  await crawlerStub(c.env, hostname).follow(hostname)
  return c.json({})
})

relayRoutes.get('/xrpc/com.atproto.sync.getHostStatus', async (c) => {
  const hostname = (c.req.query('hostname') ?? '').toLowerCase()
  if (!isCrawlHostname(hostname)) throw invalidRequest('hostname must be host or host:port')
  const status = await crawlerStub(c.env, hostname).status()
  if (!status) throw new XrpcError(400, 'HostNotFound', `not following ${hostname}`)
  return c.json(status)
})
