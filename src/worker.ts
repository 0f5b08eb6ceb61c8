/**
 * The Worker: routing, auth and error shaping. It holds no state: agents live
 * in AgentDOs, the directory in D1, blobs in R2.
 */
import { Hono } from 'hono'
import { runtimeRoutes } from './agent/routes.ts'
import { scheduleRoutes } from './agent/schedule-routes.ts'
import { runTurns, type TurnMessage } from './agent/turn-queue.ts'
import type { Delivery } from './comms/deliveries.ts'
import { deliverBatch } from './comms/delivery.ts'
import { discoveryRoutes } from './comms/discovery.ts'
import { commsRoutes } from './comms/routes.ts'
import { type Env, networkDomain, publicUrl, serviceDid, VERSION } from './env.ts'
import { toFailure, xrpcError } from './http/xrpc.ts'
import { memoryRoutes } from './memory/routes.ts'
import { identityRoutes } from './pds/routes/identity.ts'
import { importRoutes } from './pds/routes/import.ts'
import { repoRoutes } from './pds/routes/repo.ts'
import { serverRoutes } from './pds/routes/server.ts'
import { syncRoutes } from './pds/routes/sync.ts'
import { relayRoutes } from './relay/routes.ts'

export { RouterDO } from './comms/router-do.ts'
export { NetworkMemoryDO } from './memory/network-memory-do.ts'
export { AgentDO } from './pds/agent-do.ts'
export { CrawlerDO } from './relay/crawler-do.ts'
export { RelayDO } from './relay/relay-do.ts'

const app = new Hono<{ Bindings: Env }>()

app.get('/xrpc/_health', (c) => c.json({ version: VERSION }))

app.get('/xrpc/com.atproto.server.describeServer', (c) => {
  const url = publicUrl(c.env, c.req.url)
  return c.json({
    did: serviceDid(url),
    availableUserDomains: [`.${networkDomain(c.env)}`],
    inviteCodeRequired: true,
    links: {},
    contact: {},
  })
})

app.route('/', identityRoutes)
app.route('/', serverRoutes)
app.route('/', repoRoutes)
app.route('/', syncRoutes)
app.route('/', importRoutes)
app.route('/', relayRoutes)
app.route('/', commsRoutes)
app.route('/', discoveryRoutes)
app.route('/', memoryRoutes)
app.route('/', runtimeRoutes)
app.route('/', scheduleRoutes)

app.all('/xrpc/:nsid', (c) =>
  xrpcError(c, 501, 'MethodNotImplemented', `Method not implemented: ${c.req.param('nsid')}`),
)

app.notFound((c) => c.json({ error: 'NotFound', message: 'Not found' }, 404))

app.onError((err, c) => {
  const f = toFailure(err)
  if (f.status >= 500) console.error('unhandled error', err instanceof Error ? err.stack : String(err))
  return xrpcError(c, f.status, f.error, f.message)
})

/** The queue this Worker consumes as the turns queue (wrangler.jsonc). */
const TURNS_QUEUE = 'murmur-turns'

export default {
  fetch: app.fetch,
  // One Worker consumes both queues: a batch is only ever from one of them.
  queue: (batch, env) =>
    batch.queue === TURNS_QUEUE
      ? runTurns(batch as MessageBatch<TurnMessage>, env)
      : deliverBatch(batch as MessageBatch<Delivery>, env),
} satisfies ExportedHandler<Env, Delivery | TurnMessage>
