/**
 * Scheduled turns inside workerd, with real AgentDOs, alarms and the turns
 * Queue (the offline scripted model): agent.admin.schedule / listSchedules /
 * deleteSchedule; the alarm queues one turn per firing and advances the
 * schedule. Time passing for a cron schedule is simulated by moving its
 * `next_at` back in the agent's own SQLite, then running its alarm.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { nextFiring } from '../../src/agent/cron.ts'
import { ScheduleAlarm } from '../../src/agent/schedule-alarm.ts'
import { MAX_SCHEDULES } from '../../src/agent/schedules.ts'
import type { Env } from '../../src/env.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { agentStub } from '../../src/pds/agents.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

const e = env as unknown as Env
type Agent = Awaited<ReturnType<typeof createAgent>>
let a: Agent
let b: Agent

beforeAll(async () => {
  a = await createAgent()
  b = await createAgent()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function schedule(body: Record<string, unknown>, token = a.accessJwt) {
  return xrpc('agent.admin.schedule', { body, token })
}

async function listSchedules(token = a.accessJwt, repo?: string) {
  const res = await xrpc('agent.admin.listSchedules', { params: repo ? { repo } : {}, token })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.schedules as any[]
}

/** Inside the agent's object, with its state. */
function inAgent<T>(did: string, fn: (o: AgentDO, state: DurableObjectState) => T | Promise<T>) {
  return runInDurableObject(agentStub(e, did), fn)
}

/** The turn rows one schedule's firings made. */
function firingTurns(did: string, id: string) {
  return inAgent(did, (_o, state) =>
    state.storage.sql
      .exec<{ id: string; trigger: string; source: string }>(
        'SELECT id, trigger, source FROM turns WHERE trigger LIKE ? ORDER BY id',
        `${id}@%`,
      )
      .toArray(),
  )
}

/** Make a schedule due at `at` (its next firing moved back), then run the agent's alarm now. */
async function fireAt(did: string, id: string, at: number) {
  await inAgent(did, async (_o, state) => {
    state.storage.sql.exec('UPDATE schedules SET next_at = ? WHERE id = ?', at, id)
    await state.storage.setAlarm(Date.now() + 60_000)
  })
  await runDurableObjectAlarm(agentStub(e, did))
}

/** Poll until the schedule's latest turn has finished; returns the schedule and the turn. */
async function settled(id: string, token = a.accessJwt, not?: string) {
  const t0 = Date.now()
  for (;;) {
    const s = (await listSchedules(token)).find((x) => x.id === id)
    if (s?.lastTurn && s.lastTurn !== not) {
      const got = await xrpc('agent.runtime.getTurn', { params: { turn: s.lastTurn }, token })
      expect(got.status, JSON.stringify(got.body)).toBe(200)
      const turn = got.body.turn
      if (turn.state === 'done' || turn.state === 'failed') return { schedule: s, turn }
    }
    if (Date.now() - t0 > 20_000) throw new Error(`schedule ${id} has no finished turn after 20 s`)
    await sleep(50)
  }
}

async function noteTexts(did: string, prefix: string) {
  const res = await xrpc('com.atproto.repo.listRecords', {
    params: { repo: did, collection: 'agent.memory.note', limit: '100' },
  })
  expect(res.status).toBe(200)
  return res.body.records.map((r: any) => r.value.text as string).filter((t: string) => t.startsWith(prefix))
}

describe('scheduled turns', () => {
  it('an `at` schedule fires exactly one turn, and is kept as done', async () => {
    const text = 'Remember that the standup moved to 10am'
    const at = new Date(Date.now() + 2000).toISOString()
    const res = await schedule({ text, at })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const s = res.body.schedule
    expect(s).toMatchObject({ text, at, nextAt: at })
    expect(s.cron).toBeUndefined()
    expect(s.lastTurn).toBeUndefined()
    await sleep(Math.max(0, Date.parse(at) - Date.now()) + 100)
    await runDurableObjectAlarm(agentStub(e, a.did))
    const { schedule: done, turn } = await settled(s.id)
    expect(turn.state, turn.error).toBe('done')
    expect(turn.source).toBe('schedule')
    expect(done.nextAt).toBeUndefined()
    expect(done.at).toBe(at)
    // Running the alarm again (and again) fires nothing more.
    await runInDurableObject(agentStub(e, a.did), (_o, state) => state.storage.setAlarm(Date.now()))
    await runDurableObjectAlarm(agentStub(e, a.did))
    const turns = await firingTurns(a.did, s.id)
    expect(turns).toEqual([{ id: turn.id, trigger: `${s.id}@${Date.parse(at)}`, source: 'schedule' }])
    expect(await noteTexts(a.did, `Asked: ${text}`)).toHaveLength(1)
    const remembered = await noteTexts(a.did, 'the standup moved to 10am')
    expect(remembered).toEqual(['the standup moved to 10am'])
  })

  it('a cron schedule fires once for missed firings, advances, and a re-run firing makes one turn', async () => {
    const text = 'Remember that the cron schedule ran'
    const cron = '0 12 1 JAN *'
    const res = await schedule({ text, cron })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const s = res.body.schedule
    const first = nextFiring(cron, Date.now())
    expect(s).toMatchObject({ text, cron, nextAt: new Date(first).toISOString() })
    // Three years of firings missed: one catch-up turn, then the next firing after now.
    const missed = nextFiring(cron, Date.now() - 3 * 366 * 24 * 3600_000)
    await fireAt(a.did, s.id, missed)
    const one = await settled(s.id)
    expect(one.turn.state, one.turn.error).toBe('done')
    expect(one.schedule.nextAt).toBe(new Date(first).toISOString())
    expect(await firingTurns(a.did, s.id)).toHaveLength(1)

    // The same firing run again (an alarm that died before advancing): the same turn, no second one.
    await fireAt(a.did, s.id, missed)
    const again = (await listSchedules()).find((x) => x.id === s.id)
    expect(again.nextAt).toBe(new Date(first).toISOString())
    expect(again.lastTurn).toBe(one.turn.id)
    expect(await firingTurns(a.did, s.id)).toHaveLength(1)

    // A later firing is a new turn.
    await fireAt(a.did, s.id, missed + 60_000)
    const two = await settled(s.id, a.accessJwt, one.turn.id)
    expect(two.turn.state, two.turn.error).toBe('done')
    expect(await firingTurns(a.did, s.id)).toHaveLength(2)
    expect(await noteTexts(a.did, `Asked: ${text}`)).toHaveLength(2)
    expect(
      (await xrpc('agent.admin.deleteSchedule', { body: { id: s.id }, token: a.accessJwt })).status,
    ).toBe(200)
  })

  it('a firing the Queue refused stays due, and the retry makes one turn', async () => {
    const c = await createAgent()
    const text = 'Remember that the queue was down once'
    const res = await schedule({ text, cron: '0 0 1 1 *' }, c.accessJwt)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const id = res.body.schedule.id as string
    const due = Date.now() - 60_000
    const down = await inAgent(c.did, async (_o, state) => {
      state.storage.sql.exec('UPDATE schedules SET next_at = ? WHERE id = ?', due, id)
      await state.storage.deleteAlarm()
      // The Queue binding fails every send: Cloudflare's side, not ours.
      const queueDown = {
        ...e,
        TURNS: {
          send: async () => {
            throw new Error('queue unavailable')
          },
        },
      } as unknown as Env
      await new ScheduleAlarm(state.storage, queueDown).alarm({ did: c.did, status: 'active' })
      const row = state.storage.sql
        .exec<{ next_at: number }>('SELECT next_at FROM schedules WHERE id = ?', id)
        .one()
      return { nextAt: row.next_at, alarm: await state.storage.getAlarm() }
    })
    expect(down.nextAt).toBe(due)
    // Retried by a later alarm, not at once (no storm against a Queue that is down).
    expect(down.alarm).toBeGreaterThan(Date.now() + 10_000)
    const queued = await firingTurns(c.did, id)
    expect(queued).toHaveLength(1)
    const turn = await xrpc('agent.runtime.getTurn', { params: { turn: queued[0]!.id }, token: c.accessJwt })
    expect(turn.body.turn).toMatchObject({ state: 'queued', attempts: 0, source: 'schedule' })

    await runDurableObjectAlarm(agentStub(e, c.did))
    const { schedule: s, turn: ran } = await settled(id, c.accessJwt)
    expect(ran).toMatchObject({ id: queued[0]!.id, state: 'done' })
    expect(Date.parse(s.nextAt)).toBeGreaterThan(Date.now())
    expect(await firingTurns(c.did, id)).toHaveLength(1)
  })

  it('lists and deletes; the operator acts for an agent by handle', async () => {
    const c = await createAgent()
    const far = new Date(Date.now() + 30 * 24 * 3600_000).toISOString()
    const one = await schedule({ text: 'first', at: far }, c.accessJwt)
    const two = await schedule({ repo: c.handle, text: 'second', cron: '@weekly' }, ADMIN)
    expect(one.status).toBe(200)
    expect(two.status, JSON.stringify(two.body)).toBe(200)
    expect(two.body.schedule.nextAt).toBe(new Date(nextFiring('@weekly', Date.now())).toISOString())
    const listed = await listSchedules(ADMIN, c.did)
    expect(listed.map((s) => s.text)).toEqual(['first', 'second'])
    expect(await listSchedules(c.accessJwt)).toEqual(listed)

    const del = await xrpc('agent.admin.deleteSchedule', {
      body: { repo: c.did, id: one.body.schedule.id },
      token: ADMIN,
    })
    expect(del.status).toBe(200)
    expect(del.body.schedule).toEqual(one.body.schedule)
    expect((await listSchedules(c.accessJwt)).map((s) => s.text)).toEqual(['second'])
    const gone = await xrpc('agent.admin.deleteSchedule', {
      body: { id: one.body.schedule.id },
      token: c.accessJwt,
    })
    expect(gone.status).toBe(400)
    expect(gone.body).toMatchObject({
      error: 'InvalidRequest',
      message: expect.stringContaining('No schedule'),
    })
  })

  it('refuses another agent’s session and callers without a token', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString()
    const mine = await schedule({ text: 'mine', at })
    expect(mine.status).toBe(200)
    const id = mine.body.schedule.id
    const other = await schedule({ repo: a.did, text: 'not yours', at }, b.accessJwt)
    expect(other.status).toBe(403)
    expect(
      (await xrpc('agent.admin.listSchedules', { params: { repo: a.did }, token: b.accessJwt })).status,
    ).toBe(403)
    expect(
      (await xrpc('agent.admin.deleteSchedule', { body: { repo: a.handle, id }, token: b.accessJwt })).status,
    ).toBe(403)
    // B's own schedules do not include A's.
    const own = await xrpc('agent.admin.deleteSchedule', { body: { id }, token: b.accessJwt })
    expect(own.status).toBe(400)
    expect((await schedule({ text: 'anon', at }, '')).status).toBe(401)
    expect((await xrpc('agent.admin.listSchedules', { params: { repo: a.did } })).status).toBe(401)
    expect((await xrpc('agent.admin.deleteSchedule', { body: { repo: a.did, id } })).status).toBe(401)
    expect((await schedule({ text: 'no repo', at }, ADMIN)).status).toBe(400)
    expect((await listSchedules()).map((s) => s.id)).toContain(id)
  })

  it('rejects bad input with InvalidRequest', async () => {
    const soon = new Date(Date.now() + 3600_000).toISOString()
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ cron: '* * * * *' }, /text is required/],
      [{ text: '   ', cron: '* * * * *' }, /text is required/],
      [{ text: 42, cron: '* * * * *' }, /text is required/],
      [{ text: 'x'.repeat(20_001), cron: '* * * * *' }, /at most 20000/],
      [{ text: 'both', cron: '* * * * *', at: soon }, /exactly one of cron or at/],
      [{ text: 'neither' }, /exactly one of cron or at/],
      [{ text: 'bad cron', cron: '61 * * * *' }, /Invalid cron "61 \* \* \* \*": minute: 61 is outside 0-59/],
      [{ text: 'bad cron', cron: '* * * *' }, /expected 5 fields/],
      [{ text: 'bad cron', cron: '@reboot' }, /unknown macro/],
      [{ text: 'never', cron: '0 0 30 2 *' }, /never fires/],
      [{ text: 'typed', cron: 5 }, /cron must be a string/],
      [{ text: 'past', at: new Date(Date.now() - 1000).toISOString() }, /in the future/],
      [{ text: 'far', at: new Date(Date.now() + 2 * 366 * 24 * 3600_000).toISOString() }, /a year ahead/],
      [{ text: 'words', at: 'tomorrow' }, /ISO 8601/],
      [{ text: 'no zone', at: '2099-01-01T10:00:00' }, /ISO 8601/],
      [{ text: 'no date', at: '2099-02-30T10:00:00Z' }, /ISO 8601/],
    ]
    for (const [body, message] of cases) {
      const res = await schedule(body)
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
      expect(res.body.message).toMatch(message)
    }
    const malformed = await xrpc('agent.admin.schedule', {
      raw: '{"text": "x", "cron": ',
      type: 'application/json',
      token: a.accessJwt,
    })
    expect(malformed.status).toBe(400)
    expect(malformed.body).toMatchObject({ error: 'InvalidRequest', message: 'Malformed JSON body' })
    const noId = await xrpc('agent.admin.deleteSchedule', { body: {}, token: a.accessJwt })
    expect(noId.body).toMatchObject({ error: 'InvalidRequest', message: 'id is required' })
    const unknown = await xrpc('agent.admin.deleteSchedule', { body: { id: 'nope' }, token: a.accessJwt })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toBe('InvalidRequest')
  })

  it(`caps an agent at ${MAX_SCHEDULES} schedules; a fired one-shot makes room`, async () => {
    const c = await createAgent()
    const far = new Date(Date.now() + 300 * 24 * 3600_000).toISOString()
    const ids: string[] = []
    for (let i = 0; i < MAX_SCHEDULES; i++) {
      const res = await schedule({ text: `s${i}`, at: far }, c.accessJwt)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      ids.push(res.body.schedule.id)
    }
    const over = await schedule({ text: 'one too many', cron: '@daily' }, c.accessJwt)
    expect(over.status).toBe(400)
    expect(over.body).toMatchObject({
      error: 'InvalidRequest',
      message: expect.stringContaining('at most 100'),
    })
    // One one-shot done (as after its firing): the next add replaces it.
    await inAgent(c.did, (_o, state) => {
      state.storage.sql.exec('UPDATE schedules SET next_at = NULL WHERE id = ?', ids[5]!)
    })
    const room = await schedule({ text: 'fits now', cron: '@daily' }, c.accessJwt)
    expect(room.status, JSON.stringify(room.body)).toBe(200)
    const listed = await listSchedules(c.accessJwt)
    expect(listed).toHaveLength(MAX_SCHEDULES)
    expect(listed.map((s) => s.id)).not.toContain(ids[5])
  })
})
