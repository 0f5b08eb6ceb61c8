/**
 * Delivery end to end inside workerd: an agent writes an agent.comms record to
 * its own repo → the relay sequences it → the router turns it into
 * deliveries → the Queue consumer → the recipient verifies the record against
 * the sender's signed repo and files it in its inbox, once.
 */
import { runInDurableObject, SELF } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { routerStub } from '../../src/comms/router-do.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { agentStub } from '../../src/pds/agents.ts'
import { ADMIN, BASE, createAgent, xrpc } from './helpers.ts'

const text = (t: string) => ({ $type: 'agent.comms.defs#textContent', kind: 'text', text: t })

async function write(agent: { did: string; accessJwt: string }, collection: string, record: object) {
  const res = await xrpc('com.atproto.repo.createRecord', {
    body: { repo: agent.did, collection, record: { $type: collection, ...record } },
    token: agent.accessJwt,
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body as { uri: string; cid: string }
}

async function inbox(agent: { accessJwt: string }, params: Record<string, string> = {}) {
  const res = await xrpc('agent.comms.listInbox', { params, token: agent.accessJwt })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.items as any[]
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const now = () => new Date().toISOString()

describe('comms delivery', () => {
  it('delivers a message to its recipient, verified, exactly once; the sender gets nothing', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const sent = await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('hello B'),
      createdAt: now(),
    })
    const items = await until(
      () => inbox(b),
      (i) => i.length > 0,
      "B's inbox",
    )
    expect(items).toEqual([
      {
        uri: sent.uri,
        cid: sent.cid,
        collection: 'agent.comms.message',
        sender: a.did,
        record: expect.objectContaining({ recipient: b.did, content: text('hello B') }),
        receivedAt: expect.any(String),
        verified: true,
        state: 'unread',
      },
    ])
    expect(await inbox(a)).toEqual([])
    // Delivering the same record again (a redelivered Queue message) changes nothing.
    const again = await agentStub(env, b.did).deliver({
      id: 0,
      recipient: b.did,
      uri: sent.uri,
      cid: sent.cid,
      sender: a.did,
      collection: 'agent.comms.message',
      expiresAt: null,
    })
    expect(again).toEqual({ ok: true, value: { accepted: false } })
    expect(await inbox(b)).toHaveLength(1)
  })

  it('routes requests to the assignee and responses back to the requester; ack marks read', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const req = await write(a, 'agent.comms.request', {
      sender: a.did,
      task: 'sum 2 and 3',
      assignee: b.did,
      createdAt: now(),
    })
    await until(
      () => inbox(b),
      (i) => i.length === 1,
      'the request at B',
    )
    const working = await write(b, 'agent.comms.response', {
      sender: b.did,
      request: { uri: req.uri, cid: req.cid },
      state: 'working',
      createdAt: now(),
    })
    const done = await write(b, 'agent.comms.response', {
      sender: b.did,
      request: { uri: req.uri, cid: req.cid },
      state: 'completed',
      result: { $type: 'agent.comms.defs#typedData', schema: 'com.example.sum', data: { sum: 5 } },
      createdAt: now(),
    })
    const got = await until(
      () => inbox(a),
      (i) => i.length === 2,
      'both responses at A',
    )
    expect(got.map((i) => i.uri).sort()).toEqual([working.uri, done.uri].sort())
    expect(got.map((i) => i.record.state).sort()).toEqual(['completed', 'working'])

    const ack = await xrpc('agent.comms.ackInbox', { body: { uris: [working.uri] }, token: a.accessJwt })
    expect(ack.body).toEqual({ acked: 1 })
    const unread = await inbox(a, { unreadOnly: 'true' })
    expect(unread.map((i) => i.uri)).toEqual([done.uri])
    const responses = await inbox(a, { collection: 'agent.comms.response', limit: '1' })
    expect(responses).toHaveLength(1)
  })

  it('a broadcast reaches each audience DID once; unknown recipients become dead letters', async () => {
    const sender = await createAgent()
    const audience = await Promise.all([createAgent(), createAgent(), createAgent()])
    const ghost = 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa'
    const cast = await write(sender, 'agent.comms.broadcast', {
      sender: sender.did,
      content: text('all hands'),
      audience: [...audience.map((x) => x.did), audience[0]!.did, ghost, 'ops-team'],
      createdAt: now(),
    })
    for (const member of audience) {
      const items = await until(
        () => inbox(member),
        (i) => i.length > 0,
        'the broadcast',
      )
      expect(items.map((i) => i.uri)).toEqual([cast.uri])
    }
    const dead = await until(
      async () => (await xrpc('agent.admin.listDeadLetters', { token: ADMIN })).body.items as any[],
      (items) => items.some((d) => d.uri === cast.uri),
      'the dead letter',
    )
    expect(dead.find((d) => d.uri === cast.uri)).toMatchObject({
      recipient: ghost,
      reason: expect.stringMatching(/not on this network/),
    })
    expect((await xrpc('agent.admin.listDeadLetters', {})).status).toBe(401)
  })

  it('does not deliver an expired message', async () => {
    const a = await createAgent()
    const b = await createAgent()
    await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('too late'),
      createdAt: now(),
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    })
    const live = await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('on time'),
      createdAt: now(),
    })
    const items = await until(
      () => inbox(b),
      (i) => i.length > 0,
      'the live message',
    )
    await until(
      () => routerStub(env).status(),
      (s) => s.pending === 0,
      'the router to settle everything',
    )
    expect((await inbox(b)).map((i) => i.uri)).toEqual([live.uri])
    expect(items).toHaveLength(1)
  })

  it('refuses a delivery whose record does not match what was routed', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const sent = await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('real'),
      createdAt: now(),
    })
    const other = await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('other'),
      createdAt: now(),
    })
    const forged = await agentStub(env, b.did).deliver({
      id: 0,
      recipient: b.did,
      uri: sent.uri,
      cid: other.cid,
      sender: a.did,
      collection: 'agent.comms.message',
      expiresAt: null,
    })
    expect(forged).toMatchObject({ ok: false, status: 422, error: 'Undeliverable' })
    const count = await runInDurableObject(agentStub(env, b.did), (o) =>
      (o as unknown as AgentDO).comms.items
        .list({ limit: 100 })
        .items.filter((i) => i.cid === other.cid && i.uri === sent.uri),
    )
    expect(count).toEqual([])
  })

  it('listInbox needs the agent or the operator, and checks its parameters', async () => {
    const a = await createAgent()
    expect((await xrpc('agent.comms.listInbox', {})).status).toBe(401)
    const refused: Record<string, string>[] = [
      { limit: '0' },
      { cursor: 'x' },
      { collection: 'not an nsid' },
      { unreadOnly: 'yes' },
    ]
    for (const params of refused) {
      const res = await xrpc('agent.comms.listInbox', { params, token: a.accessJwt })
      expect(res.status).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
    }
    const bad = await xrpc('agent.comms.ackInbox', { body: { uris: ['nope'] }, token: a.accessJwt })
    expect(bad.status).toBe(400)
  })

  it("pushes each accepted item to the agent's inbox socket, once; the socket needs the agent's session", async () => {
    const a = await createAgent()
    const b = await createAgent()
    const open = (token?: string) =>
      SELF.fetch(`${BASE}/xrpc/agent.comms.subscribeInbox`, {
        headers: { upgrade: 'websocket', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      })
    expect((await open()).status).toBe(401)
    const res = await open(b.accessJwt)
    expect(res.status).toBe(101)
    const ws = res.webSocket!
    ws.accept()
    const pushed: any[] = []
    ws.addEventListener('message', (e) => pushed.push(JSON.parse(String(e.data))))
    const sent = await write(a, 'agent.comms.message', {
      sender: a.did,
      recipient: b.did,
      content: text('pushed'),
      createdAt: now(),
    })
    await until(
      async () => pushed.length,
      (n) => n > 0,
      'the push',
    )
    expect(pushed).toEqual([
      expect.objectContaining({
        $type: 'agent.comms.inboxItem',
        uri: sent.uri,
        cid: sent.cid,
        sender: a.did,
        verified: true,
        state: 'unread',
      }),
    ])
    // A redelivery is not pushed again.
    await agentStub(env, b.did).deliver({
      id: 0,
      recipient: b.did,
      uri: sent.uri,
      cid: sent.cid,
      sender: a.did,
      collection: 'agent.comms.message',
      expiresAt: null,
    })
    await new Promise((r) => setTimeout(r, 100))
    expect(pushed).toHaveLength(1)
    ws.close(1000)
  })
})
