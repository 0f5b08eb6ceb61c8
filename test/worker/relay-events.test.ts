/**
 * The AgentDO's non-write events on the relay: creating an agent yields
 * #identity, #account and its genesis #commit; rotating the signing key
 * yields #identity; deactivation and activation yield #account, even after a
 * restart with the wall clock behind. And the relay's checks on #sync.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import { encodeCbor, toBytes } from '../../src/atproto/cbor.ts'
import { TidClock } from '../../src/atproto/syntax/index.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { decodeFrame } from '../../src/relay/frames.ts'
import type { RelayDO } from '../../src/relay/relay-do.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

type Body = { seq: number; did?: string; repo?: string; [k: string]: unknown }

const relay = () => env.RELAY.get(env.RELAY.idFromName('main'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait for the agent's outbox to drain, then return its frames on the relay after `after`. */
async function eventsOf(did: string, after: number) {
  const agent = env.AGENTS.get(env.AGENTS.idFromName(did))
  let pending = -1
  for (let i = 0; i < 100 && pending !== 0; i++) {
    pending = await runInDurableObject(agent, (o) => (o as unknown as AgentDO).outbox.pending())
    if (pending) await sleep(20)
  }
  expect(pending).toBe(0)
  const stored = await runInDurableObject(relay(), (r: RelayDO) => r.log.page(after, 10_000))
  return stored
    .map((e) => decodeFrame<Body>(e.frame))
    .filter(({ body }) => body.did === did || body.repo === did)
    .map(({ header, body }) => ({ t: 't' in header ? header.t : null, body }))
}

describe('#identity and #account events', () => {
  it('creating an agent yields #identity, #account and the genesis #commit', async () => {
    const before = (await relay().status()).seq
    const a = await createAgent()
    const events = await eventsOf(a.did, before)
    expect(events.map((e) => e.t)).toEqual(['#identity', '#account', '#commit'])
    const [identity, account, commit] = events.map((e) => e.body)
    expect(identity).toMatchObject({ did: a.did, handle: a.handle })
    expect(typeof identity!.time).toBe('string')
    expect(account).toMatchObject({ did: a.did, active: true })
    expect(account).not.toHaveProperty('status')
    expect(commit).toMatchObject({ repo: a.did, since: null, ops: [] })
    expect(commit).toHaveProperty('blocks')
    const head = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })
    expect(head.status).toBe(200)
    expect(commit!.rev).toBe(head.body.rev)
  })

  it('rotating the signing key yields #identity', async () => {
    const a = await createAgent()
    const before = (await relay().status()).seq
    const rotated = await xrpc('agent.admin.rotateSigningKey', { token: ADMIN, body: { did: a.did } })
    expect(rotated.status).toBe(200)
    const events = await eventsOf(a.did, before)
    expect(events.map((e) => e.t)).toEqual(['#identity'])
    expect(events[0]!.body).toMatchObject({ did: a.did, handle: a.handle })
  })

  it('deactivating and activating yield #account with the right active/status', async () => {
    const a = await createAgent()
    const before = (await relay().status()).seq
    const off = await xrpc('com.atproto.server.deactivateAccount', { token: ADMIN, body: { did: a.did } })
    expect(off.status).toBe(200)
    const on = await xrpc('com.atproto.server.activateAccount', { token: ADMIN, body: { did: a.did } })
    expect(on.status).toBe(200)
    const events = await eventsOf(a.did, before)
    expect(events.map((e) => e.t)).toEqual(['#account', '#account'])
    expect(events[0]!.body).toMatchObject({ did: a.did, active: false, status: 'deactivated' })
    expect(events[1]!.body).toMatchObject({ did: a.did, active: true })
    expect(events[1]!.body).not.toHaveProperty('status')
    expect(events[1]!.body.seq).toBeGreaterThan(events[0]!.body.seq)
  })
})

describe('event revs after a restart with the wall clock behind', () => {
  it('still delivers #account and #identity (the relay would drop a rev older than the last one)', async () => {
    const a = await createAgent()
    const off = await xrpc('com.atproto.server.deactivateAccount', { token: ADMIN, body: { did: a.did } })
    expect(off.status).toBe(200)
    await eventsOf(a.did, (await relay().status()).seq)
    const before = (await relay().status()).seq
    // A restart: the AgentDO comes back with a fresh TID clock, and the wall clock now reads an hour
    // earlier (the main worker shares the tests' isolate, so the fake Date is the objects' too).
    const agent = env.AGENTS.get(env.AGENTS.idFromName(a.did))
    await expect(runInDurableObject(agent, (_o, state) => state.abort('restart'))).rejects.toThrow()
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() - 3_600_000)
      const on = await xrpc('com.atproto.server.activateAccount', { token: ADMIN, body: { did: a.did } })
      expect(on.status).toBe(200)
      const rotated = await xrpc('agent.admin.rotateSigningKey', { token: ADMIN, body: { did: a.did } })
      expect(rotated.status).toBe(200)
    } finally {
      vi.useRealTimers()
    }
    const events = await eventsOf(a.did, before)
    expect(events.map((e) => e.t)).toEqual(['#account', '#identity'])
    expect(events[0]!.body).toMatchObject({ did: a.did, active: true })
    expect(events[1]!.body).toMatchObject({ did: a.did, handle: a.handle })
  })
})

describe('#sync on the relay', () => {
  const did = () => `did:web:sync-${Date.now().toString(36)}.example.com`
  const sync = (d: string, rev: string) =>
    encodeCbor({ did: d, rev, blocks: toBytes(new Uint8Array(0)), time: new Date().toISOString() })

  it('sequences a #sync once and de-duplicates re-sends by rev', async () => {
    const d = did()
    const rev = new TidClock().next()
    const first = await relay().ingest([{ did: d, rev, kind: 'sync', body: sync(d, rev) }])
    expect(first.rejected).toEqual([])
    expect(first.acked[0]!.seq).toEqual(expect.any(Number))
    const again = await relay().ingest([{ did: d, rev, kind: 'sync', body: sync(d, rev) }])
    expect(again.acked[0]!.seq).toBeNull()
  })

  it('rejects a #sync whose body names another repo or rev', async () => {
    const [d1, d2] = [did(), `${did()}2`]
    const clock = new TidClock()
    const rev = clock.next()
    const res = await relay().ingest([
      { did: d1, rev, kind: 'sync', body: sync(`${d1}x`, rev) },
      { did: d2, rev: clock.next(), kind: 'sync', body: sync(d2, rev) },
    ])
    expect(res.acked).toEqual([])
    expect(res.rejected.map((r) => [r.did, r.reason])).toEqual([
      [d1, 'body does not match did and rev'],
      [d2, 'body does not match did and rev'],
    ])
  })
})
