/** Calls into the Worker under test (inside workerd), as a client would make them. */
import { SELF } from 'cloudflare:test'

export const BASE = 'http://127.0.0.1:8787'
export const ADMIN = 'test-admin-token'

export async function xrpc(
  method: string,
  opts: {
    params?: Record<string, string | string[]>
    body?: unknown
    token?: string
    raw?: BodyInit
    type?: string
  } = {},
): Promise<{ status: number; body: any; headers: Headers; bytes?: Uint8Array }> {
  const url = new URL(`${BASE}/xrpc/${method}`)
  for (const [k, v] of Object.entries(opts.params ?? {}))
    for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one)
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  let body: BodyInit | undefined
  if (opts.raw !== undefined) {
    body = opts.raw
    headers['content-type'] = opts.type ?? 'application/octet-stream'
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] = 'application/json'
  }
  const res = await SELF.fetch(url, {
    method: body === undefined && !opts.type ? 'GET' : 'POST',
    headers,
    body,
  })
  const type = res.headers.get('content-type') ?? ''
  if (type.includes('json')) return { status: res.status, body: await res.json(), headers: res.headers }
  const bytes = new Uint8Array(await res.arrayBuffer())
  return { status: res.status, body: null, headers: res.headers, bytes }
}

let counter = 0

/** Create an agent with a password; returns its did, handle and tokens. */
export async function createAgent(name = `agent${Date.now().toString(36)}${counter++}`) {
  const res = await xrpc('com.atproto.server.createAccount', {
    body: { handle: name, password: 'correct horse battery' },
    token: ADMIN,
  })
  if (res.status !== 200) throw new Error(`createAccount failed: ${JSON.stringify(res.body)}`)
  return res.body as { did: string; handle: string; accessJwt: string; refreshJwt: string }
}
