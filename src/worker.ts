import { Hono } from 'hono'
import { type Env, networkDomain, publicUrl, serviceDid, VERSION } from './env.ts'
import { XrpcError, xrpcError } from './http/xrpc.ts'

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

app.all('/xrpc/:nsid', (c) =>
  xrpcError(c, 501, 'MethodNotImplemented', `Method not implemented: ${c.req.param('nsid')}`),
)

app.notFound((c) =>
  c.req.path.startsWith('/xrpc/')
    ? xrpcError(c, 501, 'MethodNotImplemented', 'Method not implemented')
    : c.json({ error: 'NotFound', message: 'Not found' }, 404),
)

app.onError((err, c) => {
  if (err instanceof XrpcError) return xrpcError(c, err.status, err.error, err.message)
  console.error('unhandled error', err instanceof Error ? err.name : 'unknown')
  return xrpcError(c, 500, 'InternalServerError', 'Internal server error')
})

export default app satisfies ExportedHandler<Env>
