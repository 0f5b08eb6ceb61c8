/**
 * The agent runtime inside workerd, on the real turns Queue and the offline
 * scripted model (no model settings are bound in the worker tests):
 * agent.runtime.prompt → the turn runs in the Queue consumer → tool writes and
 * one turn note in the agent's repo; agent.runtime.getTurn reports it.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { runTurn } from '../../src/agent/turn.ts'
import { newTurnId } from '../../src/agent/turn-ids.ts'
import { runTurns, type TurnMessage } from '../../src/agent/turn-queue.ts'
import type { Env } from '../../src/env.ts'
import { agentStub } from '../../src/pds/agents.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

const NOTE = 'agent.memory.note'
const MESSAGE = 'agent.comms.message'

type Agent = Awaited<ReturnType<typeof createAgent>>
let a: Agent
let b: Agent

beforeAll(async () => {
  a = await createAgent()
  b = await createAgent()
})

/** Prompt, then poll getTurn until it is done or failed (at most ~20 s). */
async function turn(text: string, token = a.accessJwt) {
  const t0 = Date.now()
  const res = await xrpc('agent.runtime.prompt', { body: { text }, token })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  const id = res.body.turn as string
  for (;;) {
    const got = await xrpc('agent.runtime.getTurn', { params: { turn: id }, token })
    expect(got.status, JSON.stringify(got.body)).toBe(200)
    const t = got.body.turn
    if (t.state === 'done' || t.state === 'failed') return { ...t, ms: Date.now() - t0 }
    if (Date.now() - t0 > 20_000) throw new Error(`turn still ${t.state} after 20 s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function record(uri: string) {
  const [, , repo, collection, rkey] = uri.split('/')
  const res = await xrpc('com.atproto.repo.getRecord', {
    params: { repo: repo!, collection: collection!, rkey: rkey! },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.value as Record<string, any>
}

describe('agent.runtime', () => {
  it('runs a remember turn: a remembered note, searchable, and the turn note', async () => {
    const t = await turn('Remember that the demo is on Friday')
    expect(t.state, t.error).toBe('done')
    expect(t.attempts).toBe(1)
    console.log(`scripted turn, prompt → done: ${t.ms} ms`)
    const note = await record(t.note)
    expect(note.tags).toEqual(['turn'])
    expect(note.text).toContain('Asked: Remember that the demo is on Friday')
    expect(note.text).toContain('- remember {"text":"the demo is on Friday"} → at://')
    expect(note.text).toContain('Model: offline scripted model')
    const written = /remember \{[^}]*\} → (at:\/\/\S+)/.exec(note.text)![1]!
    expect((await record(written)).text).toBe('the demo is on Friday')
    const found = await xrpc('agent.memory.search', {
      params: { q: 'when is the demo?' },
      token: a.accessJwt,
    })
    expect(found.status).toBe(200)
    expect(found.body.results.map((r: any) => r.uri)).toContain(written)
  })

  it('answers a question from memory with recall', async () => {
    const t = await turn('When is the demo?')
    expect(t.state, t.error).toBe('done')
    const note = await record(t.note)
    expect(note.text).toContain('- recall {"query":"When is the demo?"}')
    expect(note.text).toMatch(/Answer: From memory: .*the demo is on Friday/)
  })

  it('sends a message to another agent', async () => {
    const t = await turn(`Tell ${b.did} hello`)
    expect(t.state, t.error).toBe('done')
    const note = await record(t.note)
    const uri = /send_message \{[^}]*\} → (at:\/\/\S+)/.exec(note.text)![1]!
    expect(uri.startsWith(`at://${a.did}/${MESSAGE}/`)).toBe(true)
    const msg = await record(uri)
    expect(msg).toMatchObject({ sender: a.did, recipient: b.did, content: { kind: 'text', text: 'hello' } })
    const list = await xrpc('com.atproto.repo.listRecords', { params: { repo: a.did, collection: MESSAGE } })
    expect(list.body.records.map((r: any) => r.uri)).toContain(uri)
  })

  it('lets the operator prompt for an agent, and only the agent’s own session otherwise', async () => {
    const t = await xrpc('agent.runtime.prompt', {
      body: { repo: b.handle, text: 'hello there' },
      token: ADMIN,
    })
    expect(t.status).toBe(200)
    const other = await xrpc('agent.runtime.prompt', {
      body: { repo: b.did, text: 'hi' },
      token: a.accessJwt,
    })
    expect(other.status).toBe(403)
    const none = await xrpc('agent.runtime.prompt', { body: { text: 'hi' } })
    expect(none.status).toBe(401)
    const empty = await xrpc('agent.runtime.prompt', { body: { text: '  ' }, token: a.accessJwt })
    expect(empty.status).toBe(400)
    const missing = await xrpc('agent.runtime.getTurn', { params: { turn: 'nope' }, token: a.accessJwt })
    expect(missing.status).toBe(400)
    const list = await xrpc('com.atproto.repo.listRecords', { params: { repo: a.did, collection: NOTE } })
    expect(list.status).toBe(200)
  })

  it('writes nothing twice when a turn is redelivered or re-run', async () => {
    const e = env as unknown as Env
    const text = 'Remember that the keys are under the mat'
    const turn = newTurnId()
    await agentStub(e, a.did).turn({ kind: 'admin' }, { op: 'create', id: turn, text })
    const deliver = async (attempts: number) => {
      const body: TurnMessage = { did: a.did, turn, text }
      const batch = createMessageBatch<TurnMessage>('murmur-turns', [
        { id: `m${attempts}`, timestamp: new Date(), attempts, body },
      ])
      const ctx = createExecutionContext()
      await runTurns(batch, e)
      return getQueueResult(batch, ctx)
    }
    expect((await deliver(1)).explicitAcks).toEqual(['m1'])
    // An attempt that died after its tools ran, run again: the same keys, already written.
    await runTurn(e, { did: a.did, turn, text })
    // A redelivery of a finished turn: acked, nothing run.
    expect((await deliver(2)).explicitAcks).toEqual(['m2'])
    const got = await xrpc('agent.runtime.getTurn', { params: { turn }, token: a.accessJwt })
    expect(got.body.turn).toMatchObject({ id: turn, state: 'done', attempts: 1 })
    const notes = await xrpc('com.atproto.repo.listRecords', {
      params: { repo: a.did, collection: NOTE, limit: '100' },
    })
    const texts = notes.body.records.map((r: any) => r.value.text as string)
    expect(texts.filter((t: string) => t === 'the keys are under the mat')).toHaveLength(1)
    expect(texts.filter((t: string) => t.startsWith(`Asked: ${text}`))).toHaveLength(1)
  })
})
