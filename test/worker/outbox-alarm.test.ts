/**
 * The outbox shares its object's one alarm (with an agent's schedules and
 * memory upkeep, a crawler's watchdog): it only ever moves the alarm earlier,
 * so another party's earlier alarm still fires when that party asked.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { Outbox, type OutboxRows } from '../../src/pds/outbox.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** An outbox over a stand-in object: its alarm, and rows that are empty or cannot be read. */
function outboxWith(alarm: number | null, rows: Partial<OutboxRows> = {}) {
  const state = { alarm, sets: 0 }
  const storage = {
    getAlarm: async () => state.alarm,
    setAlarm: async (at: number) => {
      state.alarm = at
      state.sets++
    },
    transactionSync: <T>(fn: () => T) => fn(),
  }
  const all: OutboxRows = { read: () => [], remove: () => {}, count: () => 0, ...rows }
  const outbox = new Outbox({ storage } as unknown as DurableObjectState, env, all)
  return { outbox, state }
}

describe('the outbox and the shared alarm', () => {
  it('sets its safety net when no alarm is set, and brings a later alarm earlier', async () => {
    const none = outboxWith(null)
    const before = Date.now()
    none.outbox.kick()
    await sleep(20)
    expect(none.state.alarm).toBeGreaterThanOrEqual(before + 1000)
    expect(none.state.alarm).toBeLessThanOrEqual(Date.now() + 1000)

    const later = outboxWith(Date.now() + 3600_000)
    later.outbox.kick()
    await sleep(20)
    expect(later.state.alarm).toBeLessThanOrEqual(Date.now() + 1000)
  })

  it('never pushes an earlier alarm later: not on a commit, not when backing off', async () => {
    const soon = Date.now() + 100
    const kicked = outboxWith(soon)
    kicked.outbox.kick()
    await sleep(20)
    expect(kicked.state).toEqual({ alarm: soon, sets: 0 })

    const failing = outboxWith(soon, {
      read: () => {
        throw new Error('relay unreachable')
      },
    })
    await failing.outbox.alarm()
    expect(failing.state).toEqual({ alarm: soon, sets: 0 })
    // With no earlier alarm, the backoff sets its own.
    failing.state.alarm = null
    await failing.outbox.alarm()
    expect(failing.state.alarm).toBeGreaterThan(Date.now())
  })
})
