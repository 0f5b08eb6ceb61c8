/**
 * CrawlerDO: one object per upstream host (named by `host[:port]`), created
 * by `com.atproto.sync.requestCrawl`. It holds an outbound WebSocket to the
 * host's `subscribeRepos`, checks each frame (upstream.ts), stores the
 * verified events and the upstream cursor in one transaction, and pushes the
 * events to the relay through the same outbox drain agents use. An alarm
 * reconnects from the stored cursor after a drop or a restart.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../env.ts'
import { boundedBytes } from '../http/xrpc.ts'
import { auditLogUrl, identityFromAuditLog, type VerifiedIdentity } from '../identity/resolve.ts'
import { Outbox } from '../pds/outbox.ts'
import { migrateSql } from '../storage/migrations.ts'
import { CRAWL_MIGRATIONS, CrawlStore } from './crawl-store.ts'
import { type Step, UpstreamVerifier } from './upstream.ts'

/** Frames held in memory before the socket is dropped (and resumed from the cursor later). */
const MAX_QUEUE = 5000
/** Frames per transaction. */
const BATCH = 100
const WATCHDOG_MS = 5000
const IDENTITY_TTL_MS = 10 * 60_000
const MAX_AUDIT_LOG = 1024 * 1024
const MAX_REPO = 256 * 1024 * 1024
const FETCH_TIMEOUT_MS = 15_000

export function crawlerStub(env: Env, hostname: string) {
  return env.CRAWLERS.get(env.CRAWLERS.idFromName(hostname))
}

/** `host[:port]`, lower case; IPv6 literals in brackets. */
export function isCrawlHostname(h: string): boolean {
  return /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:]+\])(:\d{1,5})?$/.test(
    h,
  )
}

/** Plain http and ws only for loopback hosts (another network on this machine); TLS elsewhere. */
export function hostUrl(hostname: string): string {
  const name = hostname.replace(/:\d+$/, '')
  const loopback = name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name)
  return `${loopback ? 'http' : 'https'}://${hostname}`
}

export interface HostStatusView {
  hostname: string
  /** The upstream seq processed so far. */
  seq: number
  accountCount: number
  desynchronized: number
  events: number
  /** `active` while following; `offline` when the socket is down. */
  status: 'active' | 'offline'
  lastError?: string
}

async function fetchBytes(url: string, max: number): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
  if (!res.ok) {
    await res.body?.cancel()
    throw new Error(`HTTP ${res.status} from ${new URL(url).pathname}`)
  }
  return boundedBytes(res, max)
}

export class CrawlerDO extends DurableObject<Env> {
  private readonly store: CrawlStore
  private readonly outbox: Outbox
  private verifier: UpstreamVerifier | null = null
  private ws: WebSocket | null = null
  private connecting = false
  private readonly queue: (Uint8Array | Blob)[] = []
  private working = false
  private lastError: string | undefined
  /** The socket was dropped for a full backlog: reconnect as soon as it is worked off. */
  private resumeWhenDrained = false
  private readonly ids = new Map<string, { id: VerifiedIdentity; at: number }>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSql(ctx.storage.sql, CRAWL_MIGRATIONS)
    this.store = new CrawlStore(ctx.storage.sql)
    this.outbox = new Outbox(ctx, env, this.store.outboxRows())
  }

  /** Start (or keep) following `hostname`; answers once the first connection attempt is done. */
  async follow(hostname: string): Promise<HostStatusView> {
    const known = this.store.host()
    if (known && known.hostname !== hostname) throw new Error('this crawler follows another host')
    this.store.follow(hostname)
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS)
    await this.openUpstream()
    return this.status() as Promise<HostStatusView>
  }

  async status(): Promise<HostStatusView | null> {
    const h = this.store.host()
    if (!h) return null
    const { repos, desynchronized } = this.store.repoCounts()
    return {
      hostname: h.hostname,
      seq: h.cursor,
      accountCount: repos,
      desynchronized,
      events: h.events,
      status: this.ws ? 'active' : 'offline',
      ...(this.lastError ? { lastError: this.lastError } : {}),
    }
  }

  /** Watchdog and outbox retries share the one alarm. */
  override async alarm(): Promise<void> {
    const h = this.store.host()
    await this.outbox.alarm()
    if (h?.status !== 'active') return
    await this.openUpstream()
    const next = Date.now() + WATCHDOG_MS
    const set = await this.ctx.storage.getAlarm()
    if (set === null || set > next) await this.ctx.storage.setAlarm(next)
  }

  private base(): string {
    return hostUrl(this.store.host()!.hostname)
  }

  private upstream(): UpstreamVerifier {
    this.verifier ??= new UpstreamVerifier({
      host: this.store.host()!.hostname,
      resolve: (did, fresh) => this.resolve(did, fresh),
      load: (did) => this.store.repo(did),
      fetchRepo: (did) =>
        fetchBytes(`${this.base()}/xrpc/com.atproto.sync.getRepo?did=${encodeURIComponent(did)}`, MAX_REPO),
    })
    return this.verifier
  }

  private async resolve(did: string, fresh: boolean): Promise<VerifiedIdentity> {
    const hit = this.ids.get(did)
    if (!fresh && hit && Date.now() - hit.at < IDENTITY_TTL_MS) return hit.id
    const url = auditLogUrl(did, this.base(), this.env.MURMUR_PLC_URL || 'https://plc.directory')
    const log = JSON.parse(new TextDecoder().decode(await fetchBytes(url, MAX_AUDIT_LOG)))
    const id = await identityFromAuditLog(did, log)
    this.ids.set(did, { id, at: Date.now() })
    return id
  }

  private async openUpstream(): Promise<void> {
    const h = this.store.host()
    if (h?.status !== 'active' || this.ws || this.connecting) return
    this.connecting = true
    try {
      // Frames still queued from a dropped socket come again from the stored cursor.
      this.queue.length = 0
      const url = `${this.base()}/xrpc/com.atproto.sync.subscribeRepos?cursor=${h.cursor}`
      const res = await fetch(url, { headers: { upgrade: 'websocket' } })
      const ws = res.webSocket
      if (!ws) {
        await res.body?.cancel()
        throw new Error(`subscribeRepos answered HTTP ${res.status}`)
      }
      ws.accept()
      ws.addEventListener('message', (e) => this.receive(ws, e.data))
      ws.addEventListener('close', () => this.dropped(ws))
      ws.addEventListener('error', () => this.dropped(ws, 'socket error'))
      this.ws = ws
      this.lastError = undefined
    } catch (err) {
      this.lastError = `connect: ${(err as Error).message}`
    } finally {
      this.connecting = false
    }
  }

  private dropped(ws: WebSocket, why?: string): void {
    if (this.ws !== ws) return
    this.ws = null
    if (why) this.lastError = why
    try {
      ws.close()
    } catch {}
  }

  private receive(ws: WebSocket, data: unknown): void {
    if (this.ws !== ws) return
    // An outbound socket delivers binary messages as Blobs; read them in order, when processed.
    if (data instanceof ArrayBuffer) this.queue.push(new Uint8Array(data))
    else if (data instanceof Blob) this.queue.push(data)
    else return
    // Too far behind: stop reading and resume from the cursor once the backlog is done.
    if (this.queue.length >= MAX_QUEUE) {
      this.dropped(ws, 'backlog full; resuming from the cursor once it is done')
      this.resumeWhenDrained = true
    }
    if (!this.working) void this.work()
  }

  /** Check queued frames in order, a batch per transaction, then hand the events to the outbox. */
  private async work(): Promise<void> {
    this.working = true
    const verifier = this.upstream()
    try {
      while (this.queue.length > 0) {
        const frames = this.queue.splice(0, BATCH)
        let cursor = this.store.host()!.cursor
        const steps: Step[] = []
        for (const frame of frames) {
          const bytes = frame instanceof Blob ? new Uint8Array(await frame.arrayBuffer()) : frame
          const step = await verifier.check(bytes, cursor)
          if (step.error) {
            this.lastError = `upstream error: ${step.error}`
            if (step.error === 'FutureCursor') cursor = 0
            if (this.ws) this.dropped(this.ws)
            break
          }
          if (step.note) console.log(`crawl ${this.store.host()!.hostname}: ${step.note}`)
          if (step.seq !== null) cursor = step.seq
          steps.push(step)
        }
        const events = steps.flatMap((s) => s.events)
        this.ctx.storage.transactionSync(() => {
          for (const s of steps) for (const state of s.states) this.store.putRepo(state)
          for (const e of events) this.store.queue(e)
          this.store.setCursor(cursor, events.length)
        })
        verifier.forget()
        if (events.length > 0) this.outbox.kick()
        // Verification awaits only settled promises: without a real turn of the event loop, the
        // outbox push, new frames and status calls would all wait for the whole backlog.
        await new Promise((r) => setTimeout(r, 0))
      }
    } catch (err) {
      // Unexpected: drop what is in memory and start again from the stored cursor.
      console.error('crawl failed', err instanceof Error ? err.message : String(err))
      this.lastError = `processing: ${(err as Error).message}`
      verifier.forget()
      this.store.forgetCache()
      this.queue.length = 0
      if (this.ws) this.dropped(this.ws)
    } finally {
      this.working = false
    }
    if (this.resumeWhenDrained && this.queue.length === 0) {
      this.resumeWhenDrained = false
      await this.openUpstream()
    }
  }
}
