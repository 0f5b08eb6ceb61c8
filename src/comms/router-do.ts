/**
 * RouterDO (one object, named "main"): follows the relay's event log with a
 * durable cursor, turns each new `agent.comms.*` record into one delivery per
 * recipient (recipients.ts), and sends deliveries over the DELIVERIES Queue.
 * Reading the log and recording the deliveries happen in one transaction, so
 * routing never skips or repeats a record; deliveries are re-sent until the
 * Queue consumer (delivery.ts) settles them.
 *
 * The relay kicks it after sequencing comms events; an alarm covers restarts
 * and lost messages. As it routes, it also keeps the task index (tasks.ts):
 * requests and the responses citing them, in the same transaction.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../env.ts'
import { relayStub } from '../relay/relay-do.ts'
import { migrateSql } from '../storage/migrations.ts'
import {
  type DeadLetter,
  type Delivery,
  DeliveryStore,
  ROUTER_MIGRATIONS,
  type Settlement,
} from './deliveries.ts'
import { COMMS_PREFIX, expiresAt, recipients } from './recipients.ts'
import { REQUEST, RESPONSE, type TaskEntry, type TaskQuery, TaskStore, type TaskSummary } from './tasks.ts'
import { TopicStore } from './topics.ts'

export const ROUTER_NAME = 'main'
const PAGE = 500
/** A sent delivery not settled within this long is sent again (a lost Queue message). */
const RESEND_MS = 30_000
const SEND_BATCH = 100
const ALARM_MS = 10_000

export function routerStub(env: Env) {
  return env.ROUTER.get(env.ROUTER.idFromName(ROUTER_NAME))
}

/** A Jetstream commit message, as the relay rendered it. */
interface JetCommit {
  did: string
  kind: string
  commit?: {
    operation: string
    collection: string
    rkey: string
    cid?: string
    record?: Record<string, unknown>
  }
}

export class RouterDO extends DurableObject<Env> {
  private readonly store: DeliveryStore
  private readonly tasks: TaskStore
  private readonly topics: TopicStore
  private running: Promise<void> | null = null
  private again = false

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    migrateSql(ctx.storage.sql, ROUTER_MIGRATIONS)
    this.store = new DeliveryStore(ctx.storage.sql)
    this.tasks = new TaskStore(ctx.storage.sql)
    this.topics = new TopicStore(ctx.storage.sql)
  }

  /** New events were sequenced: route them soon. */
  async kick(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = this.run().finally(() => {
      this.running = null
    })
    return this.running
  }

  override async alarm(): Promise<void> {
    await this.kick()
  }

  /** The consumer's verdict on a delivery. */
  async settle(id: number, s: Settlement): Promise<void> {
    this.store.settle(id, s, Date.now())
  }

  async deadLetters(limit: number, after?: number): Promise<DeadLetter[]> {
    return this.store.deadLetters(limit, after)
  }

  /** A task and its history, as routed so far; null for a request the router has not seen. */
  async task(uri: string, historyLimit: number): Promise<{ task: TaskSummary; history: TaskEntry[] } | null> {
    return this.tasks.get(uri, historyLimit)
  }

  async listTasks(q: TaskQuery): Promise<{ tasks: TaskSummary[]; cursor?: string }> {
    return this.tasks.list(q)
  }

  /** Replace an agent's topic subscriptions; broadcasts routed from now on use them. */
  async setTopics(did: string, topics: string[]): Promise<string[]> {
    this.topics.set(did, topics)
    return this.topics.of(did)
  }

  async topicsOf(did: string): Promise<string[]> {
    return this.topics.of(did)
  }

  async status(): Promise<{ cursor: number; pending: number }> {
    return { cursor: this.store.cursor(), pending: this.store.pendingCount() }
  }

  private async run(): Promise<void> {
    let failed = false
    try {
      do {
        this.again = false
        await this.route()
        await this.send()
      } while (this.again)
    } catch (err) {
      failed = true
      console.error('router: run failed', err instanceof Error ? err.message : String(err))
    }
    // Unsettled deliveries are sent again from the alarm; a failed run is retried from it.
    if (failed || this.store.pendingCount() > 0) await this.ctx.storage.setAlarm(Date.now() + ALARM_MS)
  }

  /** Page through the log from the cursor; each page's deliveries and the new cursor in one transaction. */
  private async route(): Promise<void> {
    for (;;) {
      const after = this.store.cursor()
      const { events, last } = await relayStub(this.env).routable(after, PAGE)
      if (last <= after) return
      const now = Date.now()
      this.ctx.storage.transactionSync(() => {
        for (const e of events) for (const m of e.messages) this.addDeliveries(m, e.seq, now)
        this.store.setCursor(last)
      })
    }
  }

  private addDeliveries(message: string, seq: number, now: number): void {
    let m: JetCommit
    try {
      m = JSON.parse(message) as JetCommit
    } catch {
      return
    }
    const c = m.commit
    // Records are immutable messages: only their creation is delivered.
    if (m.kind !== 'commit' || c?.operation !== 'create' || !c.cid || !c.record) return
    if (!c.collection.startsWith(COMMS_PREFIX)) return
    const expires = expiresAt(c.collection, c.record)
    const uri = `at://${m.did}/${c.collection}/${c.rkey}`
    // Index first: a response's recipients may depend on its task (who works on it).
    if (c.collection === REQUEST) this.tasks.addRequest(uri, c.cid, m.did, c.record, seq, now)
    if (c.collection === RESPONSE) this.tasks.addResponse(uri, c.cid, m.did, c.record, seq, now)
    const workers = (requestUri: string) => this.tasks.workers(requestUri)
    const subscribers = (topic: string) => this.topics.subscribers(topic)
    for (const recipient of recipients(c.collection, m.did, c.record, workers, subscribers))
      this.store.add(
        { recipient, uri, cid: c.cid, sender: m.did, collection: c.collection, expiresAt: expires },
        now,
      )
  }

  /** Put due deliveries on the Queue. */
  private async send(): Promise<void> {
    for (;;) {
      const now = Date.now()
      const due = this.store.due(now - RESEND_MS, SEND_BATCH)
      if (due.length === 0) return
      await this.env.DELIVERIES.sendBatch(due.map((d): { body: Delivery } => ({ body: d })))
      this.store.markSent(
        due.map((d) => d.id),
        now,
      )
    }
  }
}
