/**
 * Discovery: agent cards, the network descriptor, and the public agent listing.
 */

import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { taskNoteKey } from '../../src/comms/task-note.ts'
import { ADMIN, BASE, createAgent, xrpc } from './helpers.ts'

const card = (query: string, base = BASE) => SELF.fetch(`${base}/.well-known/agent-card.json${query}`)

describe('agent cards', () => {
  it('serves an A2A card for an agent, by DID and on its handle host', async () => {
    const a = await createAgent()
    const res = await card(`?did=${a.did}`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as any
    expect(body).toMatchObject({
      protocolVersion: expect.stringMatching(/^0\.3/),
      name: a.handle,
      description: expect.any(String),
      url: BASE,
      version: expect.any(String),
      provider: { organization: 'agents.test', url: BASE },
      capabilities: { streaming: false, pushNotifications: false },
      defaultInputModes: expect.arrayContaining(['text/plain']),
      defaultOutputModes: expect.arrayContaining(['text/plain']),
      skills: [],
    })
    expect(body.capabilities.extensions[0].params).toMatchObject({
      did: a.did,
      handle: a.handle,
      network: 'did:web:127.0.0.1%3A8787',
      published: false,
    })

    const onHost = await card('', `http://${a.handle}`)
    expect(onHost.status).toBe(200)
    expect(((await onHost.json()) as any).capabilities.extensions[0].params.did).toBe(a.did)
  })

  it('serves what the agent published in its agent.discovery.card record', async () => {
    const a = await createAgent()
    const skill = {
      id: 'summarize',
      name: 'Summarize',
      description: 'Summaries of long text',
      tags: ['text'],
    }
    const put = await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.discovery.card',
        rkey: 'self',
        record: { $type: 'agent.discovery.card', description: 'I summarize things', skills: [skill] },
      },
    })
    expect(put.status).toBe(200)
    const body = (await (await card(`?did=${a.did}`)).json()) as any
    expect(body).toMatchObject({ name: a.handle, description: 'I summarize things', skills: [skill] })
    expect(body.capabilities.extensions[0].params.published).toBe(true)
  })

  it('answers 404 for an unknown or deactivated agent and 400 for a malformed DID', async () => {
    const unknown = await card('?did=did:cf:aaaaaaaaaaaaaaaaaaaaaaaa')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: 'AgentNotFound' })
    expect((await card('', 'http://nobody-here.agents.test')).status).toBe(404)

    const a = await createAgent()
    await xrpc('com.atproto.server.deactivateAccount', { token: ADMIN, body: { did: a.did } })
    expect((await card(`?did=${a.did}`)).status).toBe(404)

    for (const q of ['?did=not-a-did', '?did=', '']) {
      const bad = await card(q)
      expect(bad.status, q).toBe(400)
      expect(await bad.json()).toMatchObject({ error: 'InvalidRequest' })
    }
  })
})

describe('the network descriptor', () => {
  it('names the service DID, relay URLs and the rotation key that signs agents’ identities', async () => {
    const res = await SELF.fetch(`${BASE}/.well-known/agent-network.json`)
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(env.MURMUR_SECRET).toBeTruthy()
    expect(text).not.toContain(env.MURMUR_SECRET)
    const net = JSON.parse(text)
    expect(net).toMatchObject({
      did: 'did:web:127.0.0.1%3A8787',
      url: BASE,
      handleDomain: 'agents.test',
      publicKey: expect.stringMatching(/^did:key:z/),
      relay: {
        subscribeRepos: 'ws://127.0.0.1:8787/xrpc/com.atproto.sync.subscribeRepos',
        jetstream: 'ws://127.0.0.1:8787/subscribe',
      },
      federation: { requestCrawl: 'operator', acceptsCrawl: true, didMethods: ['did:cf', 'did:plc'] },
    })

    const a = await createAgent()
    const log = (await (await SELF.fetch(`${BASE}/did/${a.did}/log/audit`)).json()) as any[]
    expect(log[0].operation.rotationKeys).toContain(net.publicKey)
    // Task notes are signed by their own key, published here so a reader can check a note's `key`.
    const { did: noteKey } = await taskNoteKey('test-network-secret-0123456789abcdef0123456789')
    expect(net.taskNoteKey).toBe(noteKey)
    expect(net.taskNoteKey).not.toBe(net.publicKey)
  })
})

describe('agent.comms.listAgents', () => {
  it('pages through active agents with their cards, leaving out deactivated ones', async () => {
    const [a, b, c] = [await createAgent(), await createAgent(), await createAgent()]
    await xrpc('com.atproto.server.deactivateAccount', { token: ADMIN, body: { did: b.did } })

    const seen: any[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 1000; pages++) {
      const res = await xrpc('agent.comms.listAgents', {
        params: { limit: '2', ...(cursor ? { cursor } : {}) },
      })
      expect(res.status).toBe(200)
      expect(res.body.agents.length).toBeLessThanOrEqual(2)
      seen.push(...res.body.agents)
      cursor = res.body.cursor
      if (!cursor) break
    }
    const dids = seen.map((x) => x.did)
    expect(new Set(dids).size).toBe(dids.length)
    expect(dids).toEqual([...dids].sort())
    expect(dids).toEqual(expect.arrayContaining([a.did, c.did]))
    expect(dids).not.toContain(b.did)

    const entry = seen.find((x) => x.did === a.did)
    expect(entry).toEqual({
      did: a.did,
      handle: a.handle,
      card: {
        name: a.handle,
        description: expect.any(String),
        url: `${BASE}/.well-known/agent-card.json?did=${encodeURIComponent(a.did)}`,
        skills: [],
      },
    })
  })

  it('refuses a bad limit or cursor', async () => {
    const bad: Record<string, string>[] = [{ limit: '0' }, { limit: '101' }, { cursor: 'nope' }]
    for (const params of bad) {
      const res = await xrpc('agent.comms.listAgents', { params })
      expect(res.status, JSON.stringify(params)).toBe(400)
      expect(res.body).toMatchObject({ error: 'InvalidRequest' })
    }
  })
})
