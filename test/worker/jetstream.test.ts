/**
 * The Jetstream-compatible stream inside workerd: rendering a commit's ops as
 * JSON, filter matching, `GET /subscribe` parameter checks, and a relay's
 * sockets with requireHello, options_update and µs cursor replay.
 */
import { env, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { carBytes } from '../../src/atproto/car.ts'
import { encodeCbor, encodeCborTrusted, toBytes } from '../../src/atproto/cbor.ts'
import { cidForCbor, cidToLink } from '../../src/atproto/cid.ts'
import { TidClock } from '../../src/atproto/syntax/index.ts'
import { jetItems, jetView, packJetItems, renderJetstream } from '../../src/relay/jetstream.ts'
import type { RelayDO } from '../../src/relay/relay-do.ts'
import { BASE } from './helpers.ts'

const clock = new TidClock()
const didOf = (n: number) => `did:cf:${String(n).padStart(24, 'j')}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A `#commit` body (as an agent's outbox sends it) creating one record per collection. */
function commitBody(did: string, rev: string, collections: string[], deletes: string[] = []) {
  const blocks = []
  const ops = []
  for (const [i, collection] of collections.entries()) {
    const bytes = encodeCbor({ $type: collection, text: `t${i}`, raw: toBytes(new Uint8Array([1, 2])) })
    const cid = cidForCbor(bytes)
    blocks.push({ cid: cid.bytes, bytes })
    ops.push({ action: 'create', path: `${collection}/r${i}`, cid: cidToLink(cid) })
  }
  for (const path of deletes) ops.push({ action: 'delete', path, cid: null })
  const car = carBytes([], blocks)
  return { repo: did, rev, ops, blocks: toBytes(car), blobs: [], time: new Date().toISOString() }
}
const commit = (did: string, collections: string[]) => {
  const rev = clock.next()
  return { did, rev, kind: 'commit', body: encodeCborTrusted(commitBody(did, rev, collections)) }
}

describe('rendering and filters', () => {
  it('renders one Jetstream event per op, with the record as JSON', () => {
    const did = didOf(1)
    const rev = clock.next()
    const items = renderJetstream(
      'commit',
      did,
      7,
      1234,
      commitBody(did, rev, ['agent.memory.note'], ['a.b.c/x']),
    )
    expect(items.map((i) => i.c)).toEqual(['agent.memory.note', 'a.b.c'])
    const [create, del] = items.map((i) => JSON.parse(i.m))
    expect(create).toMatchObject({
      did,
      time_us: 1234,
      kind: 'commit',
      commit: {
        rev,
        operation: 'create',
        collection: 'agent.memory.note',
        rkey: 'r0',
        record: { $type: 'agent.memory.note', text: 't0', raw: { $bytes: 'AQI' } },
      },
    })
    expect(create.commit.cid).toMatch(/^bafyrei/)
    expect(del).toEqual({
      did,
      time_us: 1234,
      kind: 'commit',
      commit: { rev, operation: 'delete', collection: 'a.b.c', rkey: 'x' },
    })
    const identity = renderJetstream('identity', did, 9, 5, { did, handle: 'a.test', time: 't' })
    expect(JSON.parse(identity[0]!.m)).toEqual({
      did,
      time_us: 5,
      kind: 'identity',
      identity: { did, handle: 'a.test', seq: 9, time: 't' },
    })
    expect(renderJetstream('sync', did, 9, 5, {})).toEqual([])
  })

  it('matches exact collections, prefix.* and DIDs; identity ignores the collection filter', () => {
    const a = didOf(2)
    const b = didOf(3)
    const cols = ['agent.memory.note', 'agent.memory.x.y', 'agent.memoryz.note', 'com.example.ping']
    const ev = (did: string) => ({
      seq: 1,
      frame: new Uint8Array(),
      did,
      jet: packJetItems([
        ...cols.map((c) => ({ c, m: JSON.stringify({ c }) })),
        { c: null, m: JSON.stringify({ c: 'identity' }) },
      ]),
    })
    const got = (
      o: { wantedCollections?: string[]; wantedDids?: string[]; maxMessageSizeBytes?: number },
      did = a,
    ) =>
      jetView({ wantedCollections: [], wantedDids: [], maxMessageSizeBytes: 0, ...o })
        .render(ev(did))
        .map((m) => JSON.parse(m).c)
    expect(got({})).toEqual([...cols, 'identity'])
    expect(got({ wantedCollections: ['agent.memory.*'] })).toEqual([
      'agent.memory.note',
      'agent.memory.x.y',
      'identity',
    ])
    expect(got({ wantedCollections: ['com.example.ping', 'agent.memoryz.note'] })).toEqual([
      'agent.memoryz.note',
      'com.example.ping',
      'identity',
    ])
    expect(got({ wantedDids: [b] })).toEqual([])
    expect(got({ wantedDids: [b], wantedCollections: ['com.*'] }, b)).toEqual([
      'com.example.ping',
      'identity',
    ])
    expect(got({ maxMessageSizeBytes: 10 })).toEqual([])
    expect(jetItems({ seq: 1, frame: new Uint8Array(), jet: null })).toEqual([])
  })

  it('refuses bad parameters with 400 before any upgrade', async () => {
    const bad = [
      'cursor=abc',
      'cursor=-5',
      'wantedCollections=not-an-nsid',
      'wantedCollections=agent.*.note',
      'wantedDids=alice',
      'requireHello=maybe',
      Array.from({ length: 101 }, (_, i) => `wantedCollections=a.b.c${i}`).join('&'),
    ]
    for (const q of bad) {
      const res = await SELF.fetch(`${BASE}/subscribe?${q}`, { headers: { upgrade: 'websocket' } })
      expect(res.status, q).toBe(400)
      expect(((await res.json()) as { error: string }).error).toBe('InvalidRequest')
    }
    const ok = await SELF.fetch(`${BASE}/subscribe?wantedCollections=agent.*&cursor=1`)
    expect(ok.status).toBe(426)
  })
})

const relay = (name: string) => env.RELAY.get(env.RELAY.idFromName(name))

/** A Jetstream socket on a named relay; parsed JSON messages in arrival order. */
async function connect(name: string, query: string) {
  const res = await relay(name).fetch(`https://relay.internal/subscribe?${query}`, {
    headers: { upgrade: 'websocket' },
  })
  expect(res.status).toBe(101)
  const ws = res.webSocket!
  const got: { did: string; time_us: number; commit: { collection: string; rkey: string } }[] = []
  ws.addEventListener('message', (m) => {
    got.push(JSON.parse(m.data as string))
  })
  ws.accept()
  const until = async (n: number) => {
    for (let i = 0; i < 100 && got.length < n; i++) await sleep(10)
    await sleep(30)
  }
  return { ws, got, until }
}

describe('Jetstream sockets on the relay', () => {
  it('holds until options_update, then replays and goes live under the new filters', async () => {
    const r = relay('jet-hello')
    const [a, b] = [didOf(10), didOf(11)]
    const sub = await connect('jet-hello', 'requireHello=true&wantedCollections=zzz.nothing.here')
    await r.ingest([commit(a, ['agent.memory.note', 'com.example.ping']), commit(b, ['agent.memory.note'])])
    await sleep(50)
    expect(sub.got).toEqual([])
    sub.ws.send(
      JSON.stringify({ type: 'options_update', payload: { wantedCollections: ['agent.memory.*'] } }),
    )
    await sub.until(2)
    expect(sub.got.map((e) => [e.did, e.commit.collection])).toEqual([
      [a, 'agent.memory.note'],
      [b, 'agent.memory.note'],
    ])
    // Mid-stream: only com.example.* from DID a.
    sub.ws.send(
      JSON.stringify({
        type: 'options_update',
        payload: { wantedCollections: ['com.example.*'], wantedDids: [a] },
      }),
    )
    await sleep(30)
    await r.ingest([commit(a, ['agent.memory.note', 'com.example.ping']), commit(b, ['com.example.ping'])])
    await sub.until(3)
    expect(sub.got.slice(2).map((e) => [e.did, e.commit.collection])).toEqual([[a, 'com.example.ping']])
    // A malformed options_update closes the socket.
    const closed = new Promise<number>((res) => sub.ws.addEventListener('close', (e) => res(e.code)))
    sub.ws.send('{"type":"options_update","payload":{"wantedDids":["nope"]}}')
    expect(await closed).toBe(1008)
  })

  it('replays from a µs cursor with no gap or duplicate, then goes live', async () => {
    const r = relay('jet-cursor')
    const did = didOf(20)
    await r.ingest([1, 2, 3, 4].map(() => commit(did, ['com.example.ping'])))
    const stored = await runInDurableObject(r, (o: RelayDO) => o.log.page(0, 100))
    const times = stored.map((e) => JSON.parse(jetItems(e)[0]!.m).time_us as number)
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]!)
    const from2 = await connect('jet-cursor', `cursor=${times[1]}`)
    const old = await connect('jet-cursor', 'cursor=1')
    const live = await connect('jet-cursor', '')
    const future = await connect('jet-cursor', `cursor=${times[3]! + 10_000_000}`)
    await from2.until(2)
    await r.ingest([commit(did, ['com.example.ping'])])
    await from2.until(3)
    await old.until(5)
    const timesOf = (s: typeof from2) => s.got.map((e) => e.time_us)
    const all = [...times, (await runInDurableObject(r, (o: RelayDO) => o.sequencer.headTimeUs())) as number]
    expect(timesOf(from2)).toEqual(all.slice(2))
    expect(timesOf(old)).toEqual(all)
    expect(timesOf(live)).toEqual(all.slice(4))
    expect(timesOf(future)).toEqual(all.slice(4))
    for (const s of [from2, old, live, future]) s.ws.close()
  })

  it('keeps filters too large for the socket attachment (16 KiB) in SQLite', async () => {
    const r = relay('jet-big')
    const did = didOf(30)
    const dids = [did, ...Array.from({ length: 2000 }, (_, i) => didOf(1000 + i))]
    const big = await connect('jet-big', dids.map((d) => `wantedDids=${d}`).join('&'))
    const rows = () =>
      runInDurableObject(
        r,
        (_o: RelayDO, state) => state.storage.sql.exec('SELECT id FROM jetstream_filters').toArray().length,
      )
    expect(await rows()).toBe(1)
    await r.ingest([commit(did, ['com.example.ping']), commit(didOf(31), ['com.example.ping'])])
    await big.until(1)
    expect(big.got.map((e) => e.did)).toEqual([did])
    big.ws.send(JSON.stringify({ type: 'options_update', payload: { wantedDids: [did] } }))
    await sleep(50)
    expect(await rows()).toBe(0)
    big.ws.close()
  })
})
