/**
 * No turn stays unfinished for good (src/agent/turn-sweep.ts): a turn whose
 * Queue message was lost is sent again by its agent's alarm once it has not
 * moved for STALE_MS, and then runs to the end on the real turns Queue.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { STALE_MS, turnMessage } from '../../src/agent/turn-sweep.ts'
import { AgentTurns } from '../../src/agent/turns.ts'
import type { Env } from '../../src/env.ts'
import { agentStub } from '../../src/pds/agents.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

const e = env as unknown as Env

async function turnState(did: string, turn: string) {
  const res = await xrpc('agent.runtime.getTurn', { params: { repo: did, turn }, token: ADMIN })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.turn as { state: string; attempts: number; note?: string; source: string }
}

describe('the turn sweep', () => {
  it('sends a turn whose message was lost again, once stale, and it runs to done', async () => {
    const a = await createAgent()
    const stub = agentStub(e, a.did)
    const turn = '3n2aaaaaaaaa2'
    // A prompt whose Queue message never went out: the row alone, as a lost message leaves it.
    await runInDurableObject(stub, async (_o, state) => {
      new AgentTurns(state.storage.sql).call({
        op: 'create',
        id: turn,
        text: 'Remember that the vault code is 7',
      })
    })
    expect((await turnState(a.did, turn)).state).toBe('queued')

    // Not stale yet: the alarm leaves it alone.
    await runInDurableObject(stub, (_o, state) => state.storage.setAlarm(Date.now()))
    await runDurableObjectAlarm(stub)
    await new Promise((r) => setTimeout(r, 500))
    expect((await turnState(a.did, turn)).state).toBe('queued')

    // Stale: the alarm sends it again, and the consumer runs it.
    await runInDurableObject(stub, async (_o, state) => {
      const old = new Date(Date.now() - STALE_MS - 1000).toISOString()
      state.storage.sql.exec('UPDATE turns SET updated = ? WHERE id = ?', old, turn)
      await state.storage.setAlarm(Date.now())
    })
    await runDurableObjectAlarm(stub)
    let t = await turnState(a.did, turn)
    for (let i = 0; i < 100 && t.state !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 100))
      t = await turnState(a.did, turn)
    }
    expect(t).toMatchObject({ state: 'done', attempts: 1, source: 'prompt' })
    const notes = await xrpc('com.atproto.repo.listRecords', {
      params: { repo: a.did, collection: 'agent.memory.note', limit: '10' },
    })
    const texts = notes.body.records.map((r: { value: { text: string } }) => r.value.text)
    expect(texts).toContain('the vault code is 7')
  })

  it('arms the alarm when a turn is prompted, no later than the sweep needs it', async () => {
    const a = await createAgent()
    const stub = agentStub(e, a.did)
    await runInDurableObject(stub, (_o, state) => state.storage.deleteAlarm())
    const before = Date.now()
    const res = await xrpc('agent.runtime.prompt', { body: { repo: a.did, text: 'hello' }, token: ADMIN })
    expect(res.status).toBe(200)
    const alarm = await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())
    expect(alarm).not.toBeNull()
    expect(alarm!).toBeLessThanOrEqual(before + STALE_MS + 1000)
  })

  it('rebuilds an inbox turn’s message with its item from the trigger', () => {
    const uri = 'at://did:cf:sender/agent.comms.message/3n2bbbbbbbbb2'
    const row = {
      id: '3n2cccccccccc',
      text: 'Message from did:cf:sender',
      source: 'inbox' as const,
      trigger: `${uri}@bafyreicid`,
      state: 'running' as const,
      attempts: 1,
    }
    expect(turnMessage('did:cf:me', row)).toEqual({
      did: 'did:cf:me',
      turn: row.id,
      text: row.text,
      source: 'inbox',
      item: { uri, cid: 'bafyreicid', collection: 'agent.comms.message', sender: 'did:cf:sender' },
    })
  })
})
