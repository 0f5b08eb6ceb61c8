/**
 * The runtime's tools inside workerd, called directly as a model's tool calls
 * would be: each writes its record through the agent's write path, cites other
 * records at the CIDs their repos prove, and writes nothing twice when a
 * retried turn calls it again at the same step. Routing (tasks, inboxes) is
 * the real router on the real Queues.
 */
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { TOOL_NAMES, type ToolCallRecord, turnTools } from '../../src/agent/tools/index.ts'
import { newTurnId } from '../../src/agent/turn-ids.ts'
import type { Env } from '../../src/env.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'
import { taskWith, until } from './task-helpers.ts'

type Agent = Awaited<ReturnType<typeof createAgent>>
type Ref = { uri: string; cid: string }

const e = env as unknown as Env
const NOTE = 'agent.memory.note'

/** One turn's tools for `agent`, by name; `turn` fixed to replay a turn. */
function toolsOf(agent: Agent, turn = newTurnId(), calls: ToolCallRecord[] = []) {
  const tools = turnTools({ env: e, did: agent.did, turn, calls })
  const run = async (name: string, args: Record<string, unknown>) => {
    const tool = tools.find((t) => t.name === name)
    if (!tool) throw new Error(`no tool ${name}`)
    const out = await tool.execute('call_1', args as never)
    const first = out.content[0]
    return { text: first?.type === 'text' ? first.text : '', details: out.details as Record<string, any> }
  }
  return { run, calls, turn }
}

async function getRecord(uri: string) {
  const [, , repo, collection, rkey] = uri.split('/')
  return xrpc('com.atproto.repo.getRecord', { params: { repo: repo!, collection: collection!, rkey: rkey! } })
}

/** The record at `uri` with its actual CID. */
async function stored(uri: string): Promise<{ cid: string; value: Record<string, any> }> {
  const res = await getRecord(uri)
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

async function note(agent: Agent, text: string): Promise<Ref> {
  const res = await xrpc('com.atproto.repo.createRecord', {
    body: {
      repo: agent.did,
      collection: NOTE,
      record: { $type: NOTE, text, createdAt: new Date().toISOString() },
    },
    token: agent.accessJwt,
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return { uri: res.body.uri, cid: res.body.cid }
}

async function inbox(agent: Agent): Promise<any[]> {
  const res = await xrpc('agent.comms.listInbox', { params: { repo: agent.did }, token: ADMIN })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.items
}

let a: Agent
let b: Agent
let c: Agent

beforeAll(async () => {
  ;[a, b, c] = await Promise.all([createAgent(), createAgent(), createAgent()])
})

describe('messaging tools', () => {
  it('send_message writes a message to the resolved recipient', async () => {
    const t = toolsOf(a)
    const out = await t.run('send_message', { to: `@${b.handle}`, text: 'hi there' })
    expect(out.text).toBe(`sent to ${b.did} as ${out.details.uri}`)
    const got = await stored(out.details.uri)
    expect(got.cid).toBe(out.details.cid)
    expect(got.value).toMatchObject({
      sender: a.did,
      recipient: b.did,
      content: { kind: 'text', text: 'hi there' },
    })
    expect(t.calls).toEqual([
      { tool: 'send_message', args: { to: `@${b.handle}`, text: 'hi there' }, uris: [out.details.uri] },
    ])
  })

  it('broadcast resolves handles, keeps DIDs and turns #tags into topic tags; it reaches the audience', async () => {
    const out = await toolsOf(a).run('broadcast', {
      text: 'standup in 5',
      audience: [b.handle, c.did, '#ops', c.did],
      topic: '#daily',
    })
    const got = await stored(out.details.uri)
    expect(got.cid).toBe(out.details.cid)
    expect(got.value).toMatchObject({
      $type: 'agent.comms.broadcast',
      sender: a.did,
      audience: [b.did, c.did, 'ops'],
      topic: 'daily',
      content: { $type: 'agent.comms.defs#textContent', kind: 'text', text: 'standup in 5' },
    })
    expect(out.text).toBe(`broadcast to ${b.did}, ${c.did}, ops, topic daily as ${out.details.uri}`)
    await until(
      () => inbox(b),
      (items) => items.some((i) => i.uri === out.details.uri),
      'the broadcast at B',
    )
  })
})

describe('task tools', () => {
  it('request_task cites proven context; update_task moves the task to completed with artifacts', async () => {
    const mine = await note(a, 'the spec')
    const theirs = await note(c, "C's data")
    const asked = await toolsOf(a).run('request_task', {
      to: b.handle,
      task: 'summarise the spec',
      context: [mine.uri, theirs.uri],
      priority: 4,
    })
    const req: Ref = { uri: asked.details.uri, cid: asked.details.cid }
    expect(asked.text).toBe(`asked ${b.did} to "summarise the spec": request ${req.uri} (cid ${req.cid})`)
    const got = await stored(req.uri)
    expect(got.cid).toBe(req.cid)
    expect(got.value).toMatchObject({
      sender: a.did,
      assignee: b.did,
      task: 'summarise the spec',
      priority: 4,
    })
    expect(got.value.context).toEqual([mine, theirs])
    expect((await taskWith(req.uri, 0)).state).toBe('submitted')

    const working = await toolsOf(b).run('update_task', { request: req.uri, state: 'working' })
    expect(working.text).toBe(`task ${req.uri} is now working: response ${working.details.uri}`)
    const artifact = await note(b, 'the summary')
    const done = await toolsOf(b).run('update_task', {
      request: req.uri,
      state: 'completed',
      result: 'summarised',
      artifacts: [artifact.uri],
    })
    const response = await stored(done.details.uri)
    expect(response.cid).toBe(done.details.cid)
    expect(response.value).toMatchObject({
      sender: b.did,
      request: req,
      state: 'completed',
      result: { $type: 'agent.comms.defs#textContent', kind: 'text', text: 'summarised' },
      artifacts: [{ $type: 'agent.comms.defs#strongRef', ...artifact }],
    })
    const task = await taskWith(req.uri, 2)
    expect(task.state).toBe('completed')
    expect(task.history.map((h: any) => [h.uri, h.state, h.counted])).toEqual([
      [working.details.uri, 'working', true],
      [done.details.uri, 'completed', true],
    ])
  })

  it('handoff cites the task and context at proven CIDs, and the receiver accepts it', async () => {
    const req = await toolsOf(a).run('request_task', { to: a.did, task: 'draft the plan' })
    const plan = await note(a, 'half a plan')
    const elsewhere = await note(c, 'background')
    const out = await toolsOf(a).run('handoff', {
      to: b.did,
      summary: 'the plan is half done',
      task: req.details.uri,
      context: [plan.uri, elsewhere.uri],
      reason: 'going offline',
    })
    expect(out.text).toBe(`handed off to ${b.did} as ${out.details.uri} (2 context records and the task)`)
    const got = await stored(out.details.uri)
    expect(got.value).toMatchObject({
      sender: a.did,
      recipient: b.did,
      summary: 'the plan is half done',
      task: { uri: req.details.uri, cid: req.details.cid },
      context: [plan, elsewhere],
      reason: 'going offline',
    })
    const items = await until(
      () => inbox(b),
      (i) => i.some((x) => x.uri === out.details.uri),
      'the handoff at B',
    )
    expect(items.find((x) => x.uri === out.details.uri)).toMatchObject({ cid: got.cid, verified: true })
  })
})

describe('memory tools', () => {
  it('recall hands back at most three texts, each cut to 500 characters', async () => {
    const long = `The lighthouse keeper's log: ${'the lamp was trimmed and the glass cleaned. '.repeat(40)}`
    await note(c, long)
    const out = await toolsOf(c).run('recall', { query: "the lighthouse keeper's log" })
    const texts = out.text.split('\n')
    expect(texts.length).toBeLessThanOrEqual(3)
    expect(texts[0]).toBe(`${long.slice(0, 500)}…`)
    for (const t of texts) expect(t.length).toBeLessThanOrEqual(501)
  })

  it('forget deletes one of the agent’s own memories, and only those', async () => {
    const t = toolsOf(a)
    const kept = await t.run('remember', { text: 'the boat is blue' })
    expect(kept.text).toBe(`remembered "the boat is blue" at ${kept.details.uri}`)
    expect((await stored(kept.details.uri)).cid).toBe(kept.details.cid)
    const gone = await t.run('forget', { uri: kept.details.uri })
    expect(gone.text).toBe(`forgot ${kept.details.uri}`)
    expect((await getRecord(kept.details.uri)).status).toBe(400)
    const again = await toolsOf(a).run('forget', { uri: kept.details.uri })
    expect(again.text).toBe(`${kept.details.uri} is not in your memory: nothing to forget`)
    const theirs = await note(b, 'not yours')
    await expect(t.run('forget', { uri: theirs.uri })).rejects.toThrow(/not in your repo/)
    await expect(t.run('forget', { uri: `at://${a.did}/agent.memory.profile/self` })).rejects.toThrow(
      /not a memory record/,
    )
    await expect(t.run('forget', { uri: 'nonsense' })).rejects.toThrow(/at:\/\/ uri/)
    expect((await stored(theirs.uri)).value.text).toBe('not yours')
  })
})

describe('reading tools', () => {
  it('get_record proves another agent’s record, truncates long ones, and refuses what it cannot prove', async () => {
    const t = toolsOf(a)
    const theirs = await note(b, 'proven words')
    const out = await t.run('get_record', { uri: theirs.uri })
    const shown = JSON.parse(out.text)
    expect(shown).toMatchObject({
      uri: theirs.uri,
      cid: theirs.cid,
      verified: true,
      value: { text: 'proven words' },
    })
    expect(out.details).toMatchObject({ uri: theirs.uri, cid: theirs.cid, verified: true })
    const long = await note(b, 'x'.repeat(6000))
    const cut = JSON.parse((await t.run('get_record', { uri: long.uri })).text)
    expect(cut.truncated).toBe(true)
    expect(cut.value.length).toBeLessThanOrEqual(4001)
    const absent = `at://${b.did}/${NOTE}/3jzfcijpj2z2a`
    await expect(t.run('get_record', { uri: absent })).rejects.toThrow(/does not exist/)
    const forged = `at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/${NOTE}/3jzfcijpj2z2a`
    await expect(t.run('get_record', { uri: forged })).rejects.toThrow(/not on this network/)
    await expect(t.run('get_record', { uri: `at://${b.handle}/${NOTE}/x` })).rejects.toThrow(/DID's repo/)
    expect(t.calls.map((c) => [c.tool, c.error === undefined])).toEqual([
      ['get_record', true],
      ['get_record', true],
      ['get_record', false],
      ['get_record', false],
      ['get_record', false],
    ])
  })

  it('list_agents lists the others with their profiles, filtered by skill', async () => {
    const skill = `Translation-${Date.now().toString(36)}`
    const profile = (agent: Agent, record: object) =>
      xrpc('com.atproto.repo.putRecord', {
        body: {
          repo: agent.did,
          collection: 'agent.memory.profile',
          rkey: 'self',
          record: { $type: 'agent.memory.profile', ...record },
        },
        token: agent.accessJwt,
      })
    expect(
      (await profile(b, { displayName: 'Bee', description: 'translates', skills: [skill, 'french'] })).status,
    ).toBe(200)
    expect((await profile(c, { displayName: 'Sea', skills: ['accounting'] })).status).toBe(200)
    const t = toolsOf(a)
    const all = await t.run('list_agents', {})
    const dids = all.details.agents.map((x: any) => x.did)
    expect(dids).not.toContain(a.did)
    expect(all.details.agents.length).toBeLessThanOrEqual(50)
    const filtered = await t.run('list_agents', { skill: skill.toLowerCase().slice(0, -2) })
    expect(filtered.details.agents).toEqual([
      {
        did: b.did,
        handle: b.handle,
        displayName: 'Bee',
        description: 'translates',
        skills: [skill, 'french'],
      },
    ])
    expect(filtered.text).toBe(`${b.handle} (${b.did}) "Bee": translates [skills: ${skill}, french]`)
    const none = await t.run('list_agents', { skill: 'juggling-on-mars' })
    expect(none).toMatchObject({
      text: 'no agents with a skill like "juggling-on-mars"',
      details: { agents: [] },
    })
  })
})

describe('every tool', () => {
  it('writes nothing new when a retried turn calls it again at the same step', async () => {
    const req = await toolsOf(b).run('request_task', { to: a.did, task: 'check the numbers' })
    const ctxNote = await note(a, 'numbers')
    const cases: [string, Record<string, unknown>][] = [
      ['send_message', { to: b.did, text: 'once' }],
      ['broadcast', { text: 'once', audience: [b.did] }],
      ['request_task', { to: b.did, task: 'once', context: [ctxNote.uri] }],
      ['update_task', { request: req.details.uri, state: 'working' }],
      ['handoff', { to: b.did, summary: 'once', context: [ctxNote.uri] }],
      ['remember', { text: 'remembered once' }],
    ]
    for (const [name, args] of cases) {
      const turn = newTurnId()
      const first = await toolsOf(a, turn).run(name, args)
      const second = await toolsOf(a, turn).run(name, args)
      expect(second.details.uri, name).toBe(first.details.uri)
      expect(second.details.cid, name).toBe(first.details.cid)
      const collection = first.details.uri.split('/')[3]
      const list = await xrpc('com.atproto.repo.listRecords', {
        params: { repo: a.did, collection, limit: '100' },
      })
      expect(
        list.body.records.filter((r: any) => r.uri === first.details.uri),
        name,
      ).toHaveLength(1)
    }
  })

  it('offers only the enabled tools, ignoring unknown names', () => {
    const ctx = { env: e, did: a.did, turn: newTurnId(), calls: [] }
    expect(turnTools(ctx).map((t) => t.name)).toEqual([...TOOL_NAMES])
    expect(turnTools(ctx, ['recall', 'no_such_tool', 'get_record']).map((t) => t.name)).toEqual([
      'recall',
      'get_record',
    ])
    expect(turnTools(ctx, [])).toEqual([])
  })

  it('throws clear errors for bad arguments, and records them', async () => {
    const t = toolsOf(a)
    const theirs = await note(b, 'a note, not a task')
    const bad: [string, Record<string, unknown>, RegExp][] = [
      [
        'send_message',
        { to: 'nobody.invalid', text: 'hi' },
        /recipient nobody.invalid is not an agent on this network/,
      ],
      ['send_message', { to: 'not a handle!', text: 'hi' }, /neither a DID nor a handle/],
      ['send_message', { to: b.did, text: '  ' }, /text is required/],
      ['broadcast', { text: 'hi' }, /needs an audience or a topic/],
      ['request_task', { to: b.did, task: 'x', priority: 9 }, /priority must be a whole number from 1 to 5/],
      [
        'request_task',
        { to: b.did, task: 'x', context: ['at://nope'] },
        /context\[0\]: .*does not name a record/,
      ],
      [
        'update_task',
        { request: theirs.uri, state: 'working' },
        /request: .* is not an agent.comms.request record/,
      ],
      ['update_task', { request: theirs.uri, state: 'done' }, /state must be one of submitted, working/],
      [
        'handoff',
        { to: b.did, summary: 's', context: [`at://${b.did}/${NOTE}/3jzfcijpj2z2a`] },
        /context\[0\]: .* does not exist/,
      ],
      ['list_agents', { skill: 3 }, /skill must be a string/],
    ]
    for (const [name, args, error] of bad) await expect(t.run(name, args), name).rejects.toThrow(error)
    // A record the lexicon rejects comes back from the write path as an XRPC error.
    await expect(t.run('request_task', { to: b.did, task: 'y'.repeat(600) })).rejects.toThrow(/task/)
    expect(t.calls).toHaveLength(bad.length + 1)
    expect(t.calls.every((call) => call.error && call.uris.length === 0)).toBe(true)
  })
})
