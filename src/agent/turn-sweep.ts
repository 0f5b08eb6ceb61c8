/**
 * No turn stays unfinished for good. A turn's Queue message can be lost (a
 * consumer killed with the process that ran it, a local queue restarted); its
 * row then sits `queued` or `running` with nothing coming to move it. The
 * AgentDO's alarm, armed whenever a turn is created, sends every turn that
 * has not moved for STALE_MS to the Queue again. Turns are idempotent (the
 * note and every tool write land at keys fixed by the turn id), so a turn that
 * was only slow and now runs twice writes nothing twice, and each start counts
 * towards the attempts that fail it for good.
 */
import type { Env } from '../env.ts'
import type { TurnMessage } from './turn-queue.ts'
import type { AgentTurns, TurnRow } from './turns.ts'

/** Longer than a turn's cap (120 s) plus the longest retry backoff (60 s), with room to spare. */
export const STALE_MS = 5 * 60_000
/** Turns sent again per alarm run; the rest wait for the next. */
const PER_RUN = 20

/** The Queue message of a turn, rebuilt from its row (an inbox turn's item from its trigger). */
export function turnMessage(did: string, row: TurnRow): TurnMessage {
  const message: TurnMessage = { did, turn: row.id, text: row.text, source: row.source }
  if (row.source === 'inbox' && row.trigger) {
    const at = row.trigger.lastIndexOf('@')
    const uri = row.trigger.slice(0, at)
    const [, , sender, collection] = uri.split('/')
    if (sender && collection) message.item = { uri, cid: row.trigger.slice(at + 1), collection, sender }
  }
  return message
}

export class TurnSweep {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
    private readonly turns: AgentTurns,
  ) {}

  /** Call after creating a turn: the alarm looks at it once it could be stale. */
  arm(): Promise<void> {
    return this.armAt(Date.now() + STALE_MS)
  }

  /** The alarm's share: send stale turns again, then arm for the next that could go stale. Never throws. */
  async alarm(agent: { did: string; status: string } | undefined): Promise<void> {
    if (agent?.status !== 'active') return
    try {
      for (const row of this.turns.stale(Date.now() - STALE_MS, PER_RUN)) {
        await this.env.TURNS.send(turnMessage(agent.did, row))
        this.turns.requeued(row.id)
        console.warn('turn sent again: it had not moved in', `${STALE_MS / 1000} s`, row.id)
      }
    } catch (err) {
      console.error('turn sweep', err instanceof Error ? err.message : String(err))
    }
    const oldest = this.turns.oldestUnfinished()
    if (oldest !== null) await this.armAt(Math.max(oldest + STALE_MS, Date.now() + 1000))
  }

  /** Only ever bring the shared alarm earlier. */
  private async armAt(at: number): Promise<void> {
    const current = await this.storage.getAlarm()
    if (current === null || current > at) await this.storage.setAlarm(at)
  }
}
