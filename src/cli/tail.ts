/**
 * `murmur tail`: the network's Jetstream-compatible stream (`GET /subscribe`),
 * one line per event: readable and coloured on a terminal, or the event's
 * JSON with `--json`.
 */
import WebSocket from 'ws'
import { xrpcError } from './client.ts'
import type { Context } from './context.ts'
import { CliError, usage } from './errors.ts'
import { clock, oneLine, shortDid, summarize } from './format.ts'

export interface TailOptions {
  /** NSIDs or prefixes (`agent.memory.*`). */
  collection: string[]
  /** DIDs or handles. */
  did: string[]
  /** Unix microseconds: replay the events after it, then follow. */
  cursor?: string
  /** Exit after this many events. */
  limit?: number
}

interface JetstreamEvent {
  did: string
  time_us: number
  kind: 'commit' | 'identity' | 'account' | string
  commit?: {
    rev: string
    operation: string
    collection: string
    rkey: string
    record?: unknown
    cid?: string
  }
  identity?: { handle?: string }
  account?: { active?: boolean; status?: string }
}

export function streamUrl(base: string, query: URLSearchParams): string {
  const url = new URL(`${base}/subscribe`)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.search = query.toString()
  return url.toString()
}

export async function tail(ctx: Context, opts: TailOptions): Promise<void> {
  if (opts.cursor !== undefined && !/^\d{1,17}$/.test(opts.cursor))
    throw usage(`--cursor must be a time in unix microseconds, got ${opts.cursor}`)
  const query = new URLSearchParams()
  for (const c of opts.collection) query.append('wantedCollections', c)
  for (const d of await Promise.all(opts.did.map((d) => ctx.client.resolve(d)))) query.append('wantedDids', d)
  if (opts.cursor !== undefined) query.set('cursor', opts.cursor)
  const url = streamUrl(ctx.client.url, query)
  const render = ctx.json
    ? async (ev: JetstreamEvent) => JSON.stringify(ev)
    : (ev: JetstreamEvent) => humanLine(ctx, ev)

  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 })
    let opened = false
    let done = false
    let seen = 0
    let chain = Promise.resolve()
    const stop = () => finish()
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
    // Ctrl-C is the normal way to stop following: exit 0.
    for (const s of signals) process.on(s, stop)

    function finish(err?: Error) {
      if (done) return
      done = true
      for (const s of signals) process.off(s, stop)
      if (ws.readyState === WebSocket.OPEN) ws.close(1000)
      else ws.terminate()
      if (err) reject(err)
      else resolve()
    }

    ws.on('open', () => {
      opened = true
    })
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const response = new Response(body.length ? body : null, { status: res.statusCode ?? 500 })
        void xrpcError('subscribe', response).then((e) => finish(e))
      })
    })
    ws.on('error', (err) => {
      if (done) return
      const code = (err as { code?: unknown }).code
      finish(
        opened
          ? new CliError(`the stream failed: ${err.message}`, 1, { cause: err })
          : new CliError(
              `cannot reach the network at ${ctx.client.url}: is \`npm start\` running?${typeof code === 'string' ? ` (${code})` : ''}`,
              1,
              { cause: err },
            ),
      )
    })
    ws.on('close', (code, reason) => {
      if (done) return
      const why = reason.toString() || 'no reason given'
      finish(new CliError(`the network closed the stream (${code}: ${why})`))
    })
    ws.on('message', (data, isBinary) => {
      if (done || isBinary) return
      let ev: JetstreamEvent
      try {
        ev = JSON.parse(data.toString()) as JetstreamEvent
      } catch {
        return
      }
      // Jetstream sends identity and account events whatever the collection filter: --collection means only those.
      if (opts.collection.length > 0 && ev.kind !== 'commit') return
      chain = chain
        .then(async () => {
          if (done) return
          const line = await render(ev)
          if (done) return
          ctx.out(line)
          seen++
          if (opts.limit !== undefined && seen >= opts.limit) finish()
        })
        .catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))))
    })
  })
}

/** The DIDs a record names at its top level (sender, recipient, assignee, audience…). */
function didsIn(record: unknown): string[] {
  if (record === null || typeof record !== 'object') return []
  const out: string[] = []
  for (const v of Object.values(record))
    for (const s of Array.isArray(v) ? v : [v]) if (typeof s === 'string' && s.startsWith('did:')) out.push(s)
  return out
}

async function humanLine(ctx: Context, ev: JetstreamEvent): Promise<string> {
  const p = ctx.paint
  const names = new Map<string, string>()
  await Promise.all(
    [...new Set([ev.did, ...didsIn(ev.commit?.record)])].map(async (did) => {
      names.set(did, (await ctx.client.handleOf(did)) ?? shortDid(did))
    }),
  )
  const name = (did: string) => names.get(did) ?? shortDid(did)
  const time = p('dim', clock(new Date(Math.floor(ev.time_us / 1000))))
  const actor = p('cyan', name(ev.did))
  if (ev.kind === 'commit' && ev.commit) {
    const c = ev.commit
    const op =
      c.operation === 'create' ? p('green', '+') : c.operation === 'delete' ? p('red', '-') : p('yellow', '~')
    const what =
      c.operation === 'delete' ? p('dim', 'deleted') : oneLine(summarize(c.collection, c.record, name), 160)
    return `${time}  ${actor}  ${op} ${p('magenta', c.collection)} ${p('dim', c.rkey)}  ${what}`
  }
  if (ev.kind === 'identity')
    return `${time}  ${actor}  ${p('blue', 'identity')}  ${ev.identity?.handle ?? ''}`
  if (ev.kind === 'account') {
    const a = ev.account
    const state = a?.active ? 'active' : (a?.status ?? 'inactive')
    return `${time}  ${actor}  ${p('blue', 'account')}  ${state}`
  }
  return `${time}  ${actor}  ${ev.kind}`
}
