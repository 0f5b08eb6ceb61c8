/**
 * Agents wake on their inbox, inside workerd on the real router, Queues and
 * the offline scripted model: an accepted item makes one inbox turn of an
 * agent with a profile (none of an agent without one), one per item however
 * often it is delivered, at most WAKE_LIMIT_PER_MINUTE a minute; the
 * scripted planner, researcher and writer play a goal out end to end; a
 * profile's `tools` narrows what a turn may call.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { WAKE_LIMIT_PER_MINUTE } from '../../src/agent/wake.ts'
import { routerStub } from '../../src/comms/router-do.ts'
import type { Env } from '../../src/env.ts'
import { agentStub } from '../../src/pds/agents.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'
import { getTask, now, until, write } from './task-helpers.ts'

type Agent = Awaited<ReturnType<typeof createAgent>>
type Ref = { uri: string; cid: string }

const e = env as unknown as Env
const NOTE = 'agent.memory.note'
const MESSAGE = 'agent.comms.message'
/** The longest any one wait may take. */
const WAIT = 30_000

const text = (t: string) => ({ $type: 'agent.comms.defs#textContent', kind: 'text', text: t })

async function withProfile(agent: Agent, record: Record<string, unknown>) {
  const res = await xrpc('com.atproto.repo.putRecord', {
    body: {
      repo: agent.did,
      collection: 'agent.memory.profile',
      rkey: 'self',
      record: { $type: 'agent.memory.profile', createdAt: now(), ...record },
    },
    token: ADMIN,
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
}

const message = (from: Agent, to: Agent, t: string) =>
  write(from, MESSAGE, { recipient: to.did, content: text(t), createdAt: now() })

/** The agent's turn notes, oldest first, with their record keys (the turn ids). */
async function turnNotes(agent: Agent): Promise<{ rkey: string; text: string }[]> {
  const res = await xrpc('com.atproto.repo.listRecords', {
    params: { repo: agent.did, collection: NOTE, limit: '100' },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return (res.body.records as any[])
    .filter((r) => Array.isArray(r.value.tags) && r.value.tags.includes('turn'))
    .map((r) => ({ rkey: String(r.uri).split('/').pop()!, text: r.value.text as string }))
    .reverse()
}

/** Every row of the agent's turn table, read in its object. */
function turnRows(agent: Agent) {
  return runInDurableObject(agentStub(e, agent.did), (_o, state) =>
    state.storage.sql
      .exec<{ id: string; source: string; state: string; trigger: string | null }>(
        'SELECT id, source, state, trigger FROM turns ORDER BY id',
      )
      .toArray(),
  )
}

async function getTurn(agent: Agent, turn: string) {
  const res = await xrpc('agent.runtime.getTurn', { params: { repo: agent.did, turn }, token: ADMIN })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.turn as { id: string; source: string; state: string; attempts: number; note?: string }
}

/** The turn whose note starts `prefix`, once it is done. */
async function finishedTurn(agent: Agent, prefix: string) {
  const note = (
    await until(
      () => turnNotes(agent),
      (notes) => notes.some((n) => n.text.startsWith(prefix)),
      `a turn note of ${agent.did} starting "${prefix}"`,
      WAIT,
    )
  ).find((n) => n.text.startsWith(prefix))!
  const turn = await until(
    () => getTurn(agent, note.rkey),
    (t) => t.state !== 'queued' && t.state !== 'running',
    `turn ${note.rkey} to end`,
    WAIT,
  )
  return { ...turn, text: note.text }
}

async function inbox(agent: Agent): Promise<any[]> {
  const res = await xrpc('agent.comms.listInbox', { params: { repo: agent.did, limit: '100' }, token: ADMIN })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.items
}

const settled = () =>
  until(
    () => routerStub(e).status(),
    (s) => s.pending === 0,
    'the router to settle every delivery',
    WAIT,
  )

const deliver = (to: Agent, from: Agent, ref: Ref, collection = MESSAGE) =>
  agentStub(e, to.did).deliver({
    id: 0,
    recipient: to.did,
    uri: ref.uri,
    cid: ref.cid,
    sender: from.did,
    collection,
    expiresAt: null,
  })

/** The uri a tool call in a turn note wrote. */
function wrote(note: string, tool: string): string {
  const hit = new RegExp(`- ${tool} \\{.*\\} → (at://\\S+)`).exec(note)
  if (!hit) throw new Error(`no ${tool} write in:\n${note}`)
  return hit[1]!
}

describe('waking on the inbox', () => {
  it('an agent with a profile answers a question message from memory; the sender without one does not wake', async () => {
    const asker = await createAgent()
    const knower = await createAgent()
    await withProfile(knower, { displayName: 'Knower', description: 'knows the plans' })
    const remembered = await xrpc('com.atproto.repo.createRecord', {
      body: {
        repo: knower.did,
        collection: NOTE,
        record: { $type: NOTE, text: 'The launch date is the third of March.', createdAt: now() },
      },
      token: knower.accessJwt,
    })
    expect(remembered.status, JSON.stringify(remembered.body)).toBe(200)
    const fact = remembered.body as Ref
    await until(
      async () =>
        (await xrpc('agent.memory.search', { params: { q: 'launch date' }, token: knower.accessJwt })).body
          .results as any[],
      (r) => r?.some((x) => x.uri === fact.uri),
      'the fact to be searchable',
      WAIT,
    )

    const sent = await message(asker, knower, 'What is the launch date?')
    const t = await finishedTurn(
      knower,
      `Asked: Message from ${asker.did} (${sent.uri}): What is the launch date?`,
    )
    expect(t).toMatchObject({ source: 'inbox', state: 'done', attempts: 1 })
    expect(t.note).toBe(`at://${knower.did}/${NOTE}/${t.id}`)
    expect(t.text).toContain('- recall {"query":"What is the launch date?"}')
    expect(t.text).toContain(`Answer: Answered ${asker.did}.`)
    const answerUri = wrote(t.text, 'send_message')
    expect(answerUri.startsWith(`at://${knower.did}/${MESSAGE}/`)).toBe(true)

    // The answer reaches the asker, proven; the asker has no profile and does not wake for it.
    const items = await until(
      () => inbox(asker),
      (i) => i.length > 0,
      "the answer in the asker's inbox",
      WAIT,
    )
    expect(items).toEqual([
      expect.objectContaining({ uri: answerUri, collection: MESSAGE, sender: knower.did, verified: true }),
    ])
    const answer = items[0].record.content.text as string
    expect(answer).toMatch(/^Answer: .*The launch date is the third of March\./)
    expect(await turnRows(asker)).toEqual([])
    expect(await turnNotes(asker)).toEqual([])
    // The knower made one turn, for the question, triggered by exactly that record.
    expect(await turnRows(knower)).toEqual([
      { id: t.id, source: 'inbox', state: 'done', trigger: `${sent.uri}@${sent.cid}` },
    ])
  })

  it('an agent without a profile never wakes', async () => {
    const sender = await createAgent()
    const mailbox = await createAgent()
    const sent = await message(sender, mailbox, 'When is the launch?')
    await until(
      () => inbox(mailbox),
      (i) => i.some((x) => x.uri === sent.uri),
      'the message in the inbox',
      WAIT,
    )
    await settled()
    // The turn row would have been created with the inbox row: there is none, and no note follows.
    expect(await turnRows(mailbox)).toEqual([])
    expect(await deliver(mailbox, sender, sent)).toEqual({ ok: true, value: { accepted: false } })
    await new Promise((r) => setTimeout(r, 300))
    expect(await turnRows(mailbox)).toEqual([])
    expect(await turnNotes(mailbox)).toEqual([])
  })

  it('one item makes one turn, however often it is delivered', async () => {
    const sender = await createAgent()
    const agent = await createAgent()
    await withProfile(agent, { displayName: 'Once' })
    const sent = await message(sender, agent, 'The meeting moved to noon.')
    // Delivered by the router, and by hand, at once and again.
    const results = await Promise.all([
      deliver(agent, sender, sent),
      deliver(agent, sender, sent),
      deliver(agent, sender, sent),
    ])
    for (const r of results) expect(r.ok, JSON.stringify(r)).toBe(true)
    const t = await finishedTurn(agent, `Asked: Message from ${sender.did} (${sent.uri}):`)
    expect(t).toMatchObject({ source: 'inbox', state: 'done' })
    expect(t.text).toContain('Answer: Noted: The meeting moved to noon.')
    // Delivered again once the turn is done: nothing new is queued or run.
    expect(await deliver(agent, sender, sent)).toEqual({ ok: true, value: { accepted: false } })
    await settled()
    await new Promise((r) => setTimeout(r, 500))
    expect(await turnRows(agent)).toEqual([
      { id: t.id, source: 'inbox', state: 'done', trigger: `${sent.uri}@${sent.cid}` },
    ])
    expect((await turnNotes(agent)).map((n) => n.rkey)).toEqual([t.id])
    expect(await getTurn(agent, t.id)).toMatchObject({ state: 'done', attempts: 1 })
    expect((await inbox(agent)).filter((i) => i.uri === sent.uri)).toHaveLength(1)
  })

  it('a profile’s tools narrow what a turn may call: a tool not offered fails, and writes nothing', async () => {
    const agent = await createAgent()
    await withProfile(agent, { tools: ['recall'] })
    const res = await xrpc('agent.runtime.prompt', {
      body: { repo: agent.did, text: 'Remember that the vault code is 4711' },
      token: ADMIN,
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const t = await until(
      () => getTurn(agent, res.body.turn),
      (x) => x.state === 'done' || x.state === 'failed',
      'the turn to end',
      WAIT,
    )
    expect(t).toMatchObject({ source: 'prompt', state: 'done' })
    const notes = await xrpc('com.atproto.repo.listRecords', {
      params: { repo: agent.did, collection: NOTE, limit: '100' },
    })
    const texts = (notes.body.records as any[]).map((r) => r.value.text as string)
    const turnNote = texts.find((x) => x.startsWith('Asked: Remember that the vault code is 4711'))!
    expect(turnNote).toContain('Answer: The remember tool failed: Tool remember not found')
    // pi-agent-core never ran a tool that was not offered, so none of ours recorded a call.
    expect(turnNote).toContain('Tool calls: none')
    expect(texts).toHaveLength(1)
    expect(texts.some((x) => x.includes('4711') && !x.startsWith('Asked:'))).toBe(false)
  })

  it(`wakes at most ${WAKE_LIMIT_PER_MINUTE} times a minute`, { timeout: 120_000 }, async () => {
    const sender = await createAgent()
    const agent = await createAgent()
    await withProfile(agent, { displayName: 'Busy' })
    const count = WAKE_LIMIT_PER_MINUTE + 5
    // One commit of many messages; the router delivers them, and so do we, all at once.
    const res = await xrpc('com.atproto.repo.applyWrites', {
      body: {
        repo: sender.did,
        writes: Array.from({ length: count }, (_, i) => ({
          $type: 'com.atproto.repo.applyWrites#create',
          collection: MESSAGE,
          value: {
            $type: MESSAGE,
            sender: sender.did,
            recipient: agent.did,
            content: text(`ping ${i}`),
            createdAt: now(),
          },
        })),
      },
      token: sender.accessJwt,
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const sent = (res.body.results as Ref[]).map(({ uri, cid }) => ({ uri, cid }))
    expect(sent).toHaveLength(count)
    const results = await Promise.all(sent.map((s) => deliver(agent, sender, s)))
    for (const r of results) expect(r.ok, JSON.stringify(r)).toBe(true)
    await until(
      () => inbox(agent),
      (i) => i.length === count,
      'every message in the inbox',
      WAIT,
    )
    await settled()
    const rows = await turnRows(agent)
    expect(rows).toHaveLength(WAKE_LIMIT_PER_MINUTE)
    expect(rows.every((r) => r.source === 'inbox')).toBe(true)
    const triggers = new Set(sent.map((s) => `${s.uri}@${s.cid}`))
    expect(new Set(rows.map((r) => r.trigger)).size).toBe(WAKE_LIMIT_PER_MINUTE)
    expect(rows.every((r) => triggers.has(r.trigger!))).toBe(true)
    // Every turn it did start runs to its end, and leaves one note.
    await until(
      () => turnRows(agent),
      (r) => r.every((x) => x.state === 'done' || x.state === 'failed'),
      'every turn to end',
      90_000,
    )
    expect((await turnRows(agent)).filter((r) => r.state === 'done')).toHaveLength(WAKE_LIMIT_PER_MINUTE)
    const notes = await turnNotes(agent)
    expect(notes).toHaveLength(WAKE_LIMIT_PER_MINUTE)
    expect(notes.every((n) => n.text.startsWith(`Asked: Message from ${sender.did}`))).toBe(true)
  })
})

describe('the scripted roles, end to end', () => {
  it('a planner’s goal is researched, handed to a writer, written and remembered', {
    timeout: 150_000,
  }, async () => {
    const [planner, researcher, writer] = await Promise.all([createAgent(), createAgent(), createAgent()])
    await withProfile(planner, { displayName: 'Planner', skills: ['planner'] })
    await withProfile(researcher, { displayName: 'Researcher', skills: ['researcher'] })
    await withProfile(writer, { displayName: 'Writer', skills: ['writer'] })
    const goal = `a brief on tides ${Date.now().toString(36)}`

    const res = await xrpc('agent.runtime.prompt', {
      body: { repo: planner.did, text: `Goal: ${goal}` },
      token: ADMIN,
    })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const asked = await until(
      () => getTurn(planner, res.body.turn),
      (t) => t.state === 'done' || t.state === 'failed',
      "the planner's turn",
      WAIT,
    )
    expect(asked.state).toBe('done')
    const askedNote = (await turnNotes(planner)).find((n) => n.rkey === asked.id)!.text
    const research = wrote(askedNote, 'request_task')

    // The researcher takes the task and completes it.
    const researched = await until(
      () => getTask(research),
      (r) => r.status === 200 && r.body.state === 'completed',
      'the research to complete',
      WAIT,
    )
    expect(researched.body).toMatchObject({ sender: planner.did, assignee: researcher.did })
    expect((researched.body.request.value as any).task).toBe(`Research: ${goal}`)
    const researchDone = researched.body.history.find((h: any) => h.state === 'completed')
    expect(researchDone.author).toBe(researcher.did)

    // The planner asks the writer to write it up...
    const writeReq = await until(
      async () =>
        (
          await xrpc('com.atproto.repo.listRecords', {
            params: { repo: planner.did, collection: 'agent.comms.request', limit: '100' },
          })
        ).body.records as any[],
      (records) => records.some((r) => r.value.task === `Write: ${goal}`),
      'the writing request',
      WAIT,
    ).then((records) => records.find((r) => r.value.task === `Write: ${goal}`))
    expect(writeReq.value.assignee).toBe(writer.did)

    // ...hands the research over, and the writer completes the task from it.
    const written = await until(
      () => getTask(writeReq.uri),
      (r) => r.status === 200 && r.body.state === 'completed',
      'the writing to complete',
      WAIT,
    )
    const writeDone = written.body.history.find((h: any) => h.state === 'completed')
    expect(writeDone.author).toBe(writer.did)
    expect(writeDone.value.result.text).toContain(goal)
    expect(writeDone.value.result.text).toContain(`Findings on "${goal}"`)

    const handoffs = (await inbox(writer)).filter((i) => i.collection === 'agent.comms.handoff')
    expect(handoffs).toEqual([
      expect.objectContaining({
        sender: planner.did,
        verified: true,
        record: expect.objectContaining({ task: { uri: writeReq.uri, cid: writeReq.cid } }),
      }),
    ])
    expect(handoffs[0].record.context.map((c: Ref) => c.uri)).toContain(research)

    // The planner remembers the goal as done.
    const done = await until(
      async () =>
        (
          await xrpc('com.atproto.repo.listRecords', {
            params: { repo: planner.did, collection: NOTE, limit: '100' },
          })
        ).body.records as any[],
      (records) => records.some((r) => String(r.value.text).startsWith(`Goal done: ${goal}.`)),
      "the planner's 'Goal done' note",
      WAIT,
    )
    expect(done.filter((r) => String(r.value.text).startsWith('Goal done:'))).toHaveLength(1)
    // No turn of the three failed.
    for (const agent of [planner, researcher, writer])
      expect((await turnRows(agent)).filter((r) => r.state === 'failed')).toEqual([])
  })
})
