/** Broadcasts to topic tags reach the agents subscribed to them, once each. */
import { describe, expect, it } from 'vitest'
import { createAgent, xrpc } from './helpers.ts'

type Agent = { did: string; accessJwt: string }
const text = (t: string) => ({ $type: 'agent.comms.defs#textContent', kind: 'text', text: t })

async function setTopics(agent: Agent, topics: unknown) {
  return xrpc('agent.comms.setTopics', { body: { topics }, token: agent.accessJwt })
}

async function broadcast(agent: Agent, extra: object) {
  const res = await xrpc('com.atproto.repo.createRecord', {
    token: agent.accessJwt,
    body: {
      repo: agent.did,
      collection: 'agent.comms.broadcast',
      record: {
        $type: 'agent.comms.broadcast',
        sender: agent.did,
        content: text('hi'),
        createdAt: new Date().toISOString(),
        ...extra,
      },
    },
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.uri as string
}

async function inboxUris(agent: Agent): Promise<string[]> {
  const res = await xrpc('agent.comms.listInbox', { token: agent.accessJwt })
  return (res.body.items as { uri: string }[]).map((i) => i.uri)
}

async function settle(agents: Agent[], expected: number[]) {
  const deadline = Date.now() + 15_000
  for (;;) {
    const counts = await Promise.all(agents.map(async (a) => (await inboxUris(a)).length))
    if (counts.every((n, i) => n >= expected[i]!)) return
    if (Date.now() > deadline) throw new Error(`inbox counts ${counts} never reached ${expected}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('topic subscriptions', () => {
  it('routes a broadcast to subscribers of its audience tags and its topic, each once', async () => {
    const [sender, x, y, z] = await Promise.all([createAgent(), createAgent(), createAgent(), createAgent()])
    expect((await setTopics(x!, ['ops'])).body).toEqual({ topics: ['ops'] })
    expect((await setTopics(y!, ['research', 'ops', 'ops'])).body).toEqual({ topics: ['ops', 'research'] })
    expect((await setTopics(z!, ['research'])).body).toEqual({ topics: ['research'] })
    expect((await xrpc('agent.comms.getTopics', { token: y!.accessJwt })).body).toEqual({
      topics: ['ops', 'research'],
    })

    const toOps = await broadcast(sender!, { audience: ['ops'] })
    // y is named both by DID and through its topic: it still gets one copy.
    const toResearch = await broadcast(sender!, { audience: [y!.did], topic: 'research' })
    await settle([x!, y!, z!], [1, 2, 1])
    await new Promise((r) => setTimeout(r, 200))
    expect(await inboxUris(x!)).toEqual([toOps])
    expect((await inboxUris(y!)).sort()).toEqual([toOps, toResearch].sort())
    expect(await inboxUris(z!)).toEqual([toResearch])
    expect(await inboxUris(sender!)).toEqual([])

    // Unsubscribing (an empty list) stops later broadcasts.
    expect((await setTopics(x!, [])).body).toEqual({ topics: [] })
    const later = await broadcast(sender!, { audience: ['ops'] })
    await settle([y!], [3])
    expect(await inboxUris(x!)).toEqual([toOps])
    expect(await inboxUris(y!)).toContain(later)
  })

  it('refuses bad topic lists and callers without a session', async () => {
    const a = await createAgent()
    for (const topics of [
      'ops',
      [''],
      [a.did],
      Array.from({ length: 101 }, (_, i) => `t${i}`),
      ['x'.repeat(641)],
      [7],
    ]) {
      const res = await setTopics(a, topics)
      expect(res.status, JSON.stringify(topics).slice(0, 40)).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
    }
    expect((await xrpc('agent.comms.setTopics', { body: { topics: [] } })).status).toBe(401)
    expect((await xrpc('agent.comms.getTopics', {})).status).toBe(401)
  })
})
