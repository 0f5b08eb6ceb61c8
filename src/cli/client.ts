/**
 * The CLI's XRPC client: JSON calls with the operator's admin token, errors
 * turned into one-line CliErrors, and agent names (bare name, handle or DID)
 * resolved to DIDs.
 */
import { CliError, XrpcCallError } from './errors.ts'

export type Params = Record<string, string | number | boolean | string[] | undefined>

const TIMEOUT_MS = 30_000

export interface ClientOptions {
  /** The network's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string
  /** The admin token, read only when a call needs it. */
  token: () => string
}

export class Client {
  readonly url: string
  private readonly tokenSource: () => string
  private domainPromise: Promise<string> | undefined
  private readonly handles = new Map<string, Promise<string | undefined>>()

  constructor(opts: ClientOptions) {
    this.url = opts.url
    this.tokenSource = opts.token
  }

  /** A URL on the network, with query parameters (arrays repeat the name). */
  endpoint(path: string, params: Params = {}): URL {
    const url = new URL(this.url + path)
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(v))
    }
    return url
  }

  /** fetch, with an unreachable network or a timeout turned into one clear line. */
  async fetch(url: URL, init: RequestInit = {}, timeoutMs: number | null = TIMEOUT_MS): Promise<Response> {
    try {
      return await fetch(url, timeoutMs === null ? init : { ...init, signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError')
        throw new CliError(`the network at ${this.url} did not answer within ${timeoutMs! / 1000} s`, 1, {
          cause: err,
        })
      const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause
      const why = typeof cause?.code === 'string' ? cause.code : cause?.message
      throw new CliError(
        `cannot reach the network at ${this.url}: is \`npm start\` running?${typeof why === 'string' && why ? ` (${why})` : ''}`,
        1,
        { cause: err },
      )
    }
  }

  /** GET an XRPC query. `auth`: send the admin token. */
  async get<T>(method: string, params: Params = {}, auth = false): Promise<T> {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${this.tokenSource()}` } : {}
    const res = await this.fetch(this.endpoint(`/xrpc/${method}`, params), { headers })
    return this.json<T>(method, res)
  }

  /** POST an XRPC procedure with a JSON body and the admin token. */
  async post<T>(method: string, body: unknown): Promise<T> {
    const res = await this.fetch(this.endpoint(`/xrpc/${method}`), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.tokenSource()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return this.json<T>(method, res)
  }

  /** A response's JSON body, or its XRPC error thrown. */
  async json<T>(method: string, res: Response): Promise<T> {
    if (!res.ok) throw await xrpcError(method, res)
    try {
      return (await res.json()) as T
    } catch (err) {
      throw new CliError(`${method}: the network at ${this.url} did not answer with JSON`, 1, { cause: err })
    }
  }

  /** The network's handle domain (`agents.test`), from describeServer. */
  domain(): Promise<string> {
    this.domainPromise ??= this.get<{ availableUserDomains?: string[] }>(
      'com.atproto.server.describeServer',
    ).then((d) => (d.availableUserDomains?.[0] ?? '').replace(/^\./, ''))
    return this.domainPromise
  }

  /** A handle as the network stores it: a bare name gets the network's domain. */
  async fullHandle(name: string): Promise<string> {
    const handle = name.toLowerCase().replace(/^@/, '')
    if (handle.includes('.')) return handle
    const domain = await this.domain()
    return domain ? `${handle}.${domain}` : handle
  }

  /** An agent named by DID, handle or bare name, as a DID. */
  async resolve(agent: string): Promise<string> {
    if (agent.startsWith('did:')) return agent
    const handle = await this.fullHandle(agent)
    try {
      const { did } = await this.get<{ did: string }>('com.atproto.identity.resolveHandle', { handle })
      this.handles.set(did, Promise.resolve(handle))
      return did
    } catch (err) {
      if (err instanceof XrpcCallError && err.status === 400)
        throw new CliError(`unknown agent ${JSON.stringify(agent)}: no agent has the handle ${handle}`, 1, {
          cause: err,
        })
      throw err
    }
  }

  /** The handle a DID's document names, or undefined (never throws). */
  handleOf(did: string): Promise<string | undefined> {
    let found = this.handles.get(did)
    if (!found) {
      found = this.fetch(this.endpoint(`/did/${encodeURIComponent(did)}`), {}, 5_000)
        .then(async (res) => {
          if (!res.ok) return undefined
          const doc = (await res.json()) as { alsoKnownAs?: unknown }
          const aka = Array.isArray(doc.alsoKnownAs) ? doc.alsoKnownAs[0] : undefined
          return typeof aka === 'string' && aka.startsWith('at://') ? aka.slice(5) : undefined
        })
        .catch(() => undefined)
      this.handles.set(did, found)
    }
    return found
  }
}

/** Read an XRPC error body (`{error, message}`), whatever the server sent. */
export async function xrpcError(method: string, res: Response): Promise<XrpcCallError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown }
    if (typeof body.error === 'string')
      return new XrpcCallError(
        method,
        res.status,
        body.error,
        typeof body.message === 'string' ? body.message : '',
      )
  } catch {}
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200)
  return new XrpcCallError(method, res.status, `HTTP ${res.status}`, snippet || `from ${method}`)
}
