/**
 * Schedules in the AgentDO: the `schedule` calls, and the alarm's share. The
 * alarm never runs a turn (it could be cut off mid-way): for each due firing
 * it writes the turn row, triggered by `schedule id@firing ms`, sends the
 * turn to the Queue, and only then advances the schedule. A failed send
 * leaves the schedule due, retried by a later alarm; the re-run finds the
 * same turn by its trigger, so a firing makes one turn however often it runs.
 *
 * The DO has one alarm, shared with the outbox and memory: this only ever
 * moves it earlier, and re-arms for its next firing after every alarm run.
 */
import type { Env } from '../env.ts'
import {
  AgentSchedules,
  type DueSchedule,
  firingTrigger,
  type ScheduleCall,
  type ScheduleReply,
} from './schedules.ts'
import { newTurnId } from './turn-ids.ts'
import type { TurnMessage } from './turn-queue.ts'
import { AgentTurns } from './turns.ts'

/** After a failed send, try again this soon (ms). */
const RETRY_MS = 30_000
/** A deactivated agent's due schedules wait; look again this often (ms), so reactivation resumes them. */
const INACTIVE_RECHECK_MS = 3600_000

export class ScheduleAlarm {
  readonly table: AgentSchedules
  private readonly turns: AgentTurns

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
  ) {
    this.table = new AgentSchedules(storage.sql)
    this.turns = new AgentTurns(storage.sql)
  }

  async call(call: ScheduleCall): Promise<ScheduleReply> {
    const reply = this.table.call(call)
    if (call.op === 'add') await this.arm(this.table.nextAlarm())
    return reply
  }

  /** The alarm's share: queue every due firing, then arm for the next one. Never throws. */
  async alarm(agent: { did: string; status: string } | undefined): Promise<void> {
    if (!agent || agent.status === 'deleted') return
    const now = Date.now()
    const next = this.table.nextAlarm()
    if (agent.status !== 'active') {
      if (next !== null) await this.arm(Math.max(next, now + INACTIVE_RECHECK_MS))
      return
    }
    let failed = false
    for (const due of this.table.due(now)) {
      try {
        await this.fire(agent.did, due)
        this.table.advance(due, now)
      } catch (err) {
        failed = true
        console.error('schedule firing not queued', due.id, err instanceof Error ? err.message : String(err))
      }
    }
    const after = this.table.nextAlarm()
    if (after !== null) await this.arm(failed ? Math.max(after, now + RETRY_MS) : after)
  }

  /** Queue one firing's turn. A re-run sends again only if no consumer has picked the turn up. */
  private async fire(did: string, due: DueSchedule): Promise<void> {
    const turn = this.turns.call({
      op: 'create',
      id: newTurnId(),
      text: due.text,
      source: 'schedule',
      trigger: firingTrigger(due.id, due.nextAt),
    })
    if (turn.state !== 'queued' || turn.attempts > 0) return
    await this.env.TURNS.send({
      did,
      turn: turn.id,
      text: turn.text,
      source: 'schedule',
    } satisfies TurnMessage)
  }

  /** Only ever bring the shared alarm earlier. */
  private async arm(at: number | null): Promise<void> {
    if (at === null) return
    const current = await this.storage.getAlarm()
    if (current === null || current > at) await this.storage.setAlarm(at)
  }
}
