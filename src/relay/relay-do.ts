/**
 * RelayDO: one object (named "main") that hosts the sequencer and, for now,
 * the fan-out as well. It is thin on purpose: sequencer.ts orders and stores,
 * fanout.ts serves sockets, and this class only wires them to the Durable
 * Object's RPC, WebSocket and alarm entry points.
 */
import { DurableObject } from 'cloudflare:workers'
import { COMMS_PREFIX } from '../comms/recipients.ts'
import { routerStub } from '../comms/router-do.ts'
import type { Env } from '../env.ts'
import { migrateSql } from '../storage/migrations.ts'
import { EventLog, RELAY_MIGRATIONS } from './event-log.ts'
import { DEFAULT_FANOUT, FanOut, type FanOutOptions } from './fanout.ts'
import {
  JetFilters,
  type JetOptions,
  jetItems,
  parseOptionsUpdate,
  parseSubscribeQuery,
} from './jetstream.ts'
import { type IngestEvent, type IngestResult, retentionFrom, Sequencer } from './sequencer.ts'

export const RELAY_NAME = 'main'

export function relayStub(env: Env) {
  return env.RELAY.get(env.RELAY.idFromName(RELAY_NAME))
}

/** A packed Jetstream line (`collection TAB json`) of an agent.comms record. */
const COMMS_LINE = /(^|\n)agent\.comms\./

/** After comms events, the alarm makes sure the router has read them (ms). */
const ROUTER_RECHECK_MS = 2000

/** Pruning on ingest runs at most this often (ms); the alarm covers idle periods. */
const PRUNE_EVERY_MS = 1000
const ALARM_CHUNKS = 20

function fanoutOptions(env: Env): FanOutOptions {
  const num = (v: string | undefined, d: number) => (v && Number(v) > 0 ? Number(v) : d)
  return {
    pageSize: DEFAULT_FANOUT.pageSize,
    maxBufferedBytes: num(env.MURMUR_RELAY_MAX_BUFFERED_BYTES, DEFAULT_FANOUT.maxBufferedBytes),
    drainBytesPerSec: num(env.MURMUR_RELAY_DRAIN_BYTES_PER_SEC, DEFAULT_FANOUT.drainBytesPerSec),
  }
}

export class RelayDO extends DurableObject<Env> {
  readonly log: EventLog
  readonly sequencer: Sequencer
  readonly fanout: FanOut
  readonly filters: JetFilters
  private lastPrune = 0
  private alarmAt: number | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSql(ctx.storage.sql, RELAY_MIGRATIONS)
    this.log = new EventLog(ctx.storage.sql)
    this.sequencer = new Sequencer(this.log, (fn) => ctx.storage.transactionSync(fn), retentionFrom(env))
    const source = {
      head: () => this.sequencer.head(),
      oldestSeq: () => this.log.oldest()?.seq ?? null,
      page: (after: number, limit: number) => this.log.page(after, limit),
    }
    this.filters = new JetFilters(ctx.storage.sql)
    this.fanout = new FanOut(ctx, source, fanoutOptions(env), (state) => this.filters.restore(state))
    this.filters.sweep(
      ctx.getWebSockets().map((ws) => (ws.deserializeAttachment() as { view?: unknown })?.view),
    )
  }

  /**
   * Sequence a batch from an agent's outbox and acknowledge it. The frames go
   * to live subscribers in the same turn, after the transaction; the runtime's
   * output gate holds both the acknowledgement and the frames until the write
   * is durable.
   */
  async ingest(events: IngestEvent[]): Promise<IngestResult> {
    const { acked, rejected, stored } = this.sequencer.ingest(events)
    for (const r of rejected) console.error('relay rejected event', r.did, r.kind, r.rev, r.reason)
    this.fanout.broadcast(stored)
    this.maintain()
    // The router follows the log with its own cursor; this only tells it there is something to
    // read. The alarm (stored with these events) tells it again if this kick is lost to a crash.
    if (stored.some((e) => e.jet && COMMS_LINE.test(e.jet))) {
      this.ctx.waitUntil(routerStub(this.env).kick())
      this.scheduleAlarm(Date.now() + ROUTER_RECHECK_MS)
    }
    return { acked, rejected }
  }

  /**
   * The router's read of the log: after `after`, up to `limit` events, with
   * only their `agent.comms.*` Jetstream messages (most have none). `last` is
   * the seq to continue after.
   */
  async routable(
    after: number,
    limit: number,
  ): Promise<{ events: { seq: number; messages: string[] }[]; last: number }> {
    const page = this.log.page(after, limit)
    const events = page
      .map((e) => ({
        seq: e.seq,
        messages: jetItems(e)
          .filter((i) => i.c?.startsWith(COMMS_PREFIX))
          .map((i) => i.m),
      }))
      .filter((e) => e.messages.length > 0)
    return { events, last: page.at(-1)?.seq ?? after }
  }

  /** The newest seq, and how many events the log holds. */
  async status(): Promise<{ seq: number; events: number; subscribers: number }> {
    return { seq: this.sequencer.head(), events: this.sequencer.size(), subscribers: this.fanout.size }
  }

  /**
   * The Worker forwards `subscribeRepos` and Jetstream `/subscribe` upgrades
   * here, with their parameters already validated.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
      return new Response('Expected a WebSocket upgrade', { status: 426 })
    const url = new URL(request.url)
    if (url.pathname === '/subscribe') {
      const { options, cursor, requireHello } = parseSubscribeQuery(url.searchParams)
      return this.fanout.subscribeView(
        this.jetstreamPosition(cursor),
        this.filters.view(options),
        requireHello,
      )
    }
    const raw = url.searchParams.get('cursor')
    return this.fanout.subscribe(raw ? Number(raw) : undefined)
  }

  /**
   * A Jetstream cursor (unix µs) as a seq: replay the events with a later
   * time_us. Absent or in the future: live. Older than the log: from the oldest.
   */
  jetstreamPosition(cursor: number | undefined): number {
    const head = this.sequencer.head()
    if (cursor === undefined || cursor >= this.sequencer.headTimeUs()) return head
    return this.log.seqAtOrBefore(cursor) ?? (this.log.oldest()?.seq ?? head + 1) - 1
  }

  /** Jetstream sockets may send `options_update`; firehose subscribers have nothing to say. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const old = this.fanout.viewOf(ws)
    if (!old) return
    let options: JetOptions
    try {
      options = parseOptionsUpdate(typeof message === 'string' ? message : new TextDecoder().decode(message))
    } catch (err) {
      this.filters.release(old)
      this.fanout.closed(ws, 1008, `invalid options_update: ${(err as Error).message}`.slice(0, 120))
      return
    }
    this.fanout.setView(ws, this.filters.view(options))
    this.filters.release(old)
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.filters.release(this.fanout.viewOf(ws))
    this.fanout.closed(ws)
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.filters.release(this.fanout.viewOf(ws))
    this.fanout.closed(ws)
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null
    const { more } = this.sequencer.prune(Date.now(), ALARM_CHUNKS)
    this.lastPrune = Date.now()
    this.scheduleAlarm(more ? Date.now() + PRUNE_EVERY_MS : this.sequencer.nextExpiry())
    try {
      await routerStub(this.env).kick()
    } catch (err) {
      console.error('relay: router kick failed', err instanceof Error ? err.message : String(err))
      this.scheduleAlarm(Date.now() + ROUTER_RECHECK_MS)
    }
  }

  /** A bounded pruning step on the ingest path, and an alarm for when the log next expires. */
  private maintain(): void {
    const now = Date.now()
    const over = this.sequencer.size() > this.sequencer.retention.maxEvents
    if (over || now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now
      const { more } = this.sequencer.prune(now, 1)
      if (more) this.scheduleAlarm(now + PRUNE_EVERY_MS)
    }
    if (this.alarmAt === null) this.scheduleAlarm(this.sequencer.nextExpiry())
  }

  private scheduleAlarm(at: number | null): void {
    if (at === null || (this.alarmAt !== null && this.alarmAt <= at)) return
    this.alarmAt = at
    void this.ctx.storage.setAlarm(at)
  }
}
