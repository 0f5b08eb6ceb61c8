/**
 * The relay inside workerd: the sequencer (dedupe, gap-free seq, frames,
 * pruning), the AgentDO outbox draining into the relay, and subscribeRepos
 * over SELF. The fan-out's own tests are in fanout.test.ts.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { encodeCborTrusted } from '../../src/atproto/cbor.ts'
import { TidClock } from '../../src/atproto/syntax/index.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { decodeFrame } from '../../src/relay/frames.ts'
import type { RelayDO } from '../../src/relay/relay-do.ts'
import { Sequencer } from '../../src/relay/sequencer.ts'
import { BASE, createAgent, xrpc } from './helpers.ts'

const clock = new TidClock()
const didOf = (n: number) => `did:cf:${String(n).padStart(24, 'a')}`
const event = (did: string, rev = clock.next()) => ({
  did,
  rev,
  kind: 'commit',
  body: encodeCborTrusted({ repo: did, rev, ops: [], blobs: [], time: new Date().toISOString() }),
})
const relay = (name: string) => env.RELAY.get(env.RELAY.idFromName(name))
const frames = (name: string, after = 0) =>
  runInDurableObject(relay(name), (r: RelayDO) => r.log.page(after, 10_000))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('sequencer', () => {
  it('gives gap-free seqs, de-duplicates re-sends, and stores decodable frames', async () => {
    const r = relay('seq-dedupe')
    const batch = [event(didOf(1)), event(didOf(2)), event(didOf(1)), event(didOf(2))]
    const first = await r.ingest(batch)
    expect(first.acked.map((a) => a.seq)).toEqual([1, 2, 3, 4])
    expect(first.rejected).toEqual([])
    // A re-send (a crash before the outbox deleted its rows) plus one new event.
    const again = await r.ingest([...batch, event(didOf(1))])
    expect(again.acked.map((a) => a.seq)).toEqual([null, null, null, null, 5])
    const stored = await frames('seq-dedupe')
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    for (const [i, e] of stored.entries()) {
      const { header, body } = decodeFrame<{ seq: number; repo: string; rev: string }>(e.frame)
      expect(header).toEqual({ op: 1, t: '#commit' })
      expect(body.seq).toBe(e.seq)
      const sent = i < 4 ? batch[i]! : undefined
      if (sent) expect([body.repo, body.rev]).toEqual([sent.did, sent.rev])
    }
    expect(await r.status()).toMatchObject({ seq: 5, events: 5 })
  })

  it('rejects a malformed event and everything after it from that repo, but not other repos', async () => {
    const r = relay('seq-reject')
    const ok = event(didOf(3))
    const bad = { ...event(didOf(3)), body: new Uint8Array([0xff]) }
    const after = event(didOf(3))
    const res = await r.ingest([ok, bad, after, event(didOf(4)), { ...event(didOf(5)), kind: 'nope' }])
    expect(res.acked.map((a) => [a.did, a.seq])).toEqual([
      [didOf(3), 1],
      [didOf(4), 2],
    ])
    expect(res.rejected.map((x) => x.reason)).toEqual([
      'body is not DAG-CBOR',
      'an earlier event from this repo was rejected',
      'unknown kind nope',
    ])
  })

  it('prunes by age and by count in chunks, and never reuses a seq', async () => {
    const stub = relay('seq-prune')
    await runInDurableObject(stub, (r: RelayDO, state) => {
      const seq = new Sequencer(r.log, (fn) => state.storage.transactionSync(fn), {
        maxAgeMs: 60_000,
        maxEvents: 2500,
      })
      const t0 = 1_700_000_000_000
      for (let i = 0; i < 30; i++)
        seq.ingest(
          Array.from({ length: 100 }, (_, j) => event(didOf(10 + j))),
          t0 + i * 1000,
        )
      expect(seq.size()).toBe(3000)
      // Over the count cap: one chunk per call, until 2500 remain.
      expect(seq.prune(t0 + 30_000, 1)).toEqual({ deleted: 500, more: false })
      expect(r.log.oldest()?.seq).toBe(501)
      // Older than 60 s at t0 + 75 s: events from the first 15 seconds (seq <= 1500) go.
      expect(seq.prune(t0 + 75_000, 10)).toEqual({ deleted: 1000, more: false })
      expect(r.log.oldest()?.seq).toBe(1501)
      // Much later, everything expires; the next event still gets the next seq.
      expect(seq.prune(t0 + 10_000_000, 1)).toEqual({ deleted: 1000, more: true })
      expect(seq.prune(t0 + 10_000_000, 5).more).toBe(false)
      expect(seq.size()).toBe(0)
      const next = seq.ingest([event(didOf(99))], t0 + 10_000_001)
      expect(next.acked[0]!.seq).toBe(3001)
    })
  })
})

describe('outbox → relay → subscribeRepos', () => {
  it('drains the outbox after writes, and the relay holds every commit', async () => {
    const a = await createAgent()
    const before = (await relay('main').status()).seq
    const revs: string[] = []
    for (let i = 0; i < 5; i++) {
      const res = await xrpc('com.atproto.repo.createRecord', {
        token: a.accessJwt,
        body: {
          repo: a.did,
          collection: 'agent.memory.note',
          record: { text: `n${i}`, createdAt: new Date().toISOString() },
        },
      })
      expect(res.status).toBe(200)
      revs.push(res.body.commit.rev)
    }
    const agent = env.AGENTS.get(env.AGENTS.idFromName(a.did))
    let pending = -1
    for (let i = 0; i < 100 && pending !== 0; i++) {
      pending = await runInDurableObject(agent, (o) => (o as unknown as AgentDO).outbox.pending())
      if (pending) await sleep(20)
    }
    expect(pending).toBe(0)
    const mine = (await frames('main', before))
      .map((e) => decodeFrame<{ repo: string; rev: string; ops: unknown[] }>(e.frame).body)
      .filter((b) => b.repo === a.did && b.ops.length > 0)
    expect(mine.map((b) => b.rev)).toEqual(revs)
  })

  it('streams commits to a live WebSocket subscriber; bad cursors are refused', async () => {
    const bad = await xrpc('com.atproto.sync.subscribeRepos', { params: { cursor: 'abc' } })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('InvalidRequest')
    const noUpgrade = await xrpc('com.atproto.sync.subscribeRepos')
    expect(noUpgrade.status).toBe(426)

    const connect = async (query: string) => {
      const { SELF } = await import('cloudflare:test')
      const res = await SELF.fetch(`${BASE}/xrpc/com.atproto.sync.subscribeRepos${query}`, {
        headers: { upgrade: 'websocket' },
      })
      expect(res.status).toBe(101)
      const ws = res.webSocket!
      const got: Promise<Uint8Array>[] = []
      // workerd hands binary messages over as Blobs; keep them in arrival order.
      ws.addEventListener('message', (m) => {
        const data = m.data as Blob | ArrayBuffer
        got.push(
          data instanceof Blob
            ? data.arrayBuffer().then((b) => new Uint8Array(b))
            : Promise.resolve(new Uint8Array(data)),
        )
      })
      ws.accept()
      return { ws, got }
    }
    const head = (await relay('main').status()).seq
    const future = await connect(`?cursor=${head + 1000}`)
    const live = await connect('?cursor=')
    const a = await createAgent()
    const res = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.memory.note',
        record: { text: 'hi', createdAt: new Date().toISOString() },
      },
    })
    // The new agent's #identity, #account and genesis #commit come first, then the write.
    for (let i = 0; i < 100 && live.got.length < 4; i++) await sleep(20)
    const got = await Promise.all(live.got)
    const decoded = got.map((f) => decodeFrame<{ repo: string; rev: string; seq: number }>(f))
    expect(decoded.map((d) => d.body.seq)).toEqual([1, 2, 3, 4].map((n) => head + n))
    const { header, body } = decoded[3]!
    expect(header).toEqual({ op: 1, t: '#commit' })
    expect(body).toMatchObject({ repo: a.did, rev: res.body.commit.rev, seq: head + 4 })
    expect(decodeFrame(await future.got[0]!)).toEqual({
      header: { op: -1 },
      body: { error: 'FutureCursor', message: 'Cursor in the future.' },
    })
    live.ws.close()
  })
})
