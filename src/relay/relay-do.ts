/**
 * RelayDO: one object (named "main") that hosts the sequencer and, for now,
 * the fan-out as well. It is thin on purpose: sequencer.ts orders and stores,
 * fanout.ts serves sockets, and this class only wires them to the Durable
 * Object's RPC, WebSocket and alarm entry points.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../env.ts'
import { migrateSql } from '../storage/migrations.ts'
import { EventLog, RELAY_MIGRATIONS } from './event-log.ts'
import { DEFAULT_FANOUT, FanOut, type FanOutOptions } from './fanout.ts'
import { type IngestEvent, type IngestResult, retentionFrom, Sequencer } from './sequencer.ts'

export const RELAY_NAME = 'main'

export function relayStub(env: Env) {
  return env.RELAY.get(env.RELAY.idFromName(RELAY_NAME))
}

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
    this.fanout = new FanOut(ctx, source, fanoutOptions(env))
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
    return { acked, rejected }
  }

  /** The newest seq, and how many events the log holds. */
  async status(): Promise<{ seq: number; events: number; subscribers: number }> {
    return { seq: this.sequencer.head(), events: this.sequencer.size(), subscribers: this.fanout.size }
  }

  /** The Worker forwards `subscribeRepos` upgrades here, with the cursor already validated. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
      return new Response('Expected a WebSocket upgrade', { status: 426 })
    const raw = new URL(request.url).searchParams.get('cursor')
    return this.fanout.subscribe(raw ? Number(raw) : undefined)
  }

  override async webSocketMessage(): Promise<void> {
    // Subscribers have nothing to say on this stream.
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.fanout.closed(ws)
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.fanout.closed(ws)
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null
    const { more } = this.sequencer.prune(Date.now(), ALARM_CHUNKS)
    this.lastPrune = Date.now()
    this.scheduleAlarm(more ? Date.now() + PRUNE_EVERY_MS : this.sequencer.nextExpiry())
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
