/**
 * The AgentDO's outbox drain. The write path stores each commit's event in
 * the `outbox` table in the commit's own transaction; this pushes those rows
 * to the relay, oldest first and in batches, and deletes them once the relay
 * acknowledges them. It runs after each commit (the write does not wait for
 * it) and from an alarm that retries with backoff until the relay answers.
 *
 * Crash safety: an alarm is set before the first push of a burst, so rows
 * left by a crash are pushed again; the relay de-duplicates re-sends by
 * (did, kind, rev), so a row acknowledged but not yet deleted is never
 * emitted twice.
 *
 * The object has one alarm, shared (the agent's schedules and memory upkeep,
 * the crawler's watchdog): the outbox only ever moves it earlier, and its
 * owner runs the outbox's share on every alarm, whoever set it.
 */
import type { Env } from '../env.ts'
import { relayStub } from '../relay/relay-do.ts'
import type { IngestEvent } from '../relay/sequencer.ts'

const BATCH_ROWS = 100
/** Keep one RPC well under the runtime's message limit even with large commits. */
const BATCH_BYTES = 8 * 1024 * 1024
const RETRY_MS = 1000
const MAX_RETRY_MS = 30_000

/** One pending event and the row id to delete once the relay has it. */
export interface OutboxRow {
  id: number
  event: IngestEvent
}

/** Where an outbox keeps its pending events: the agent's table, or a crawler's. */
export interface OutboxRows {
  /** The oldest pending rows, up to `limit`. */
  read(limit: number): OutboxRow[]
  remove(ids: number[]): void
  count(): number
}

/** The agent's outbox table: its own DID on every row. */
export function agentOutboxRows(sql: SqlStorage): OutboxRows {
  return {
    read(limit) {
      const did = sql.exec<{ did: string }>('SELECT did FROM agent WHERE id = 1').toArray()[0]?.did
      if (!did) return []
      return sql
        .exec<{ id: number; rev: string; kind: string; event: ArrayBuffer }>(
          'SELECT id, rev, kind, event FROM outbox ORDER BY id LIMIT ?',
          limit,
        )
        .toArray()
        .map((r) => ({ id: r.id, event: { did, rev: r.rev, kind: r.kind, body: new Uint8Array(r.event) } }))
    },
    remove(ids) {
      for (const id of ids) sql.exec('DELETE FROM outbox WHERE id = ?', id)
    },
    count: () => sql.exec<{ n: number }>('SELECT count(*) AS n FROM outbox').one().n,
  }
}

export class Outbox {
  private running = false
  private again = false
  private failures = 0
  private alarmSet = false

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly rows: OutboxRows = agentOutboxRows(ctx.storage.sql),
  ) {}

  /** After a commit: drain soon, in the background. While backing off, the alarm does it. */
  kick(): void {
    if (this.running) {
      this.again = true
      return
    }
    if (this.failures > 0) return
    void this.run(!this.alarmSet)
  }

  /** The alarm: drain, or schedule the next try with backoff. */
  async alarm(): Promise<void> {
    this.alarmSet = false
    if (this.running) {
      this.again = true
      return this.retryLater(RETRY_MS)
    }
    await this.run()
  }

  /** Drain until empty; `safetyNet` first sets the alarm that retries if this object dies mid-push. */
  private async run(safetyNet = false): Promise<void> {
    this.running = true
    try {
      if (safetyNet) await this.retryLater(RETRY_MS)
      do {
        this.again = false
        await this.drain()
      } while (this.again)
      this.failures = 0
    } catch (err) {
      this.failures++
      console.error('outbox push failed', err instanceof Error ? err.message : String(err))
      await this.retryLater(Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1)))
    } finally {
      this.running = false
    }
  }

  /** Have the alarm run within `ms`: set it, unless it is already due sooner. */
  private async retryLater(ms: number): Promise<void> {
    this.alarmSet = true
    const at = Date.now() + ms
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > at) await this.ctx.storage.setAlarm(at)
  }

  /** How many events wait for the relay. */
  pending(): number {
    return this.rows.count()
  }

  /** Push until the outbox is empty; throws when the relay cannot be reached or refuses a row. */
  private async drain(): Promise<void> {
    for (;;) {
      const rows: OutboxRow[] = []
      let bytes = 0
      for (const r of this.rows.read(BATCH_ROWS)) {
        if (rows.length > 0 && bytes + r.event.body.byteLength > BATCH_BYTES) break
        rows.push(r)
        bytes += r.event.body.byteLength
      }
      if (rows.length === 0) return
      const result = await relayStub(this.env).ingest(rows.map((r) => r.event))
      const key = (e: { did: string; kind: string; rev: string }) => `${e.did} ${e.kind} ${e.rev}`
      const acked = new Set(result.acked.map(key))
      this.ctx.storage.transactionSync(() =>
        this.rows.remove(rows.filter((r) => acked.has(key(r.event))).map((r) => r.id)),
      )
      if (result.rejected.length > 0)
        throw new Error(`relay rejected ${result.rejected.length} event(s): ${result.rejected[0]!.reason}`)
    }
  }
}
