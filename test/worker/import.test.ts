import { env, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { parseCar } from '../../src/atproto/car.ts'
import { type Bytes, fromBytes } from '../../src/atproto/cbor.ts'
import { cidToString } from '../../src/atproto/cid.ts'
import { verifyCommit, verifyRepoCar } from '../../src/atproto/repo/index.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { decodeFrame } from '../../src/relay/frames.ts'
import { jetItems } from '../../src/relay/jetstream.ts'
import type { RelayDO } from '../../src/relay/relay-do.ts'
import { BASE, createAgent, xrpc } from './helpers.ts'

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

async function importCar(token: string, car: Uint8Array) {
  const res = await SELF.fetch(`${BASE}/xrpc/com.atproto.repo.importRepo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.ipld.car' },
    body: car,
  })
  return { status: res.status, body: (await res.json()) as any }
}

async function exportRepo(did: string) {
  const car = (await xrpc('com.atproto.sync.getRepo', { params: { did } })).bytes!
  return { car, repo: await verifyRepoCar(car) }
}

type Body = { seq: number; did?: string; repo?: string; [k: string]: unknown }

const relay = () => env.RELAY.get(env.RELAY.idFromName('main'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Wait until the agent's outbox is empty, so everything it queued is on the relay. */
async function drained(did: string) {
  const agent = env.AGENTS.get(env.AGENTS.idFromName(did))
  let pending = -1
  for (let i = 0; i < 100 && pending !== 0; i++) {
    pending = await runInDurableObject(agent, (o) => (o as unknown as AgentDO).outbox.pending())
    if (pending) await sleep(20)
  }
  expect(pending).toBe(0)
}

/** The agent's events on the relay after seq `after`: frame type, body and Jetstream messages. */
async function eventsOf(did: string, after: number) {
  await drained(did)
  const stored = await runInDurableObject(relay(), (r: RelayDO) => r.log.page(after, 10_000))
  return stored
    .map((e) => ({ ...decodeFrame<Body>(e.frame), jet: jetItems(e) }))
    .filter(({ body }) => body.did === did || body.repo === did)
    .map(({ header, body, jet }) => ({ t: 't' in header ? header.t : null, body, jet }))
}

async function signingKey(did: string): Promise<string> {
  const doc = await xrpc('com.atproto.identity.resolveDid', { params: { did } })
  return `did:key:${doc.body.didDoc.verificationMethod[0].publicKeyMultibase}`
}

describe('moving agents with importRepo', () => {
  it('export → import into a fresh agent → export gives the same records and data CID', async () => {
    const a = await createAgent()
    for (let i = 0; i < 12; i++)
      await xrpc('com.atproto.repo.createRecord', {
        token: a.accessJwt,
        body: { repo: a.did, collection: 'agent.memory.note', record: note(`memory ${i}`) },
      })
    await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'com.example.thing',
        rkey: 'self',
        record: { $type: 'com.example.thing', n: 1 },
      },
    })
    const first = await exportRepo(a.did)

    const b = await createAgent()
    // b already has a record that the import must replace.
    await xrpc('com.atproto.repo.createRecord', {
      token: b.accessJwt,
      body: { repo: b.did, collection: 'agent.memory.note', record: note('old life') },
    })
    const imported = await importCar(b.accessJwt, first.car)
    expect(imported.status).toBe(200)

    const second = await exportRepo(b.did)
    expect(second.repo.did).toBe(b.did)
    expect(cidToString(second.repo.data)).toBe(cidToString(first.repo.data))
    const records = (r: typeof first.repo) =>
      r.records.map((x) => `${x.collection}/${x.rkey}@${cidToString(x.cid)}`).sort()
    expect(records(second.repo)).toEqual(records(first.repo))

    // Importing the same CAR again changes nothing.
    expect((await importCar(b.accessJwt, first.car)).body).toEqual({})
  })

  it('refuses a malformed CAR and changes nothing', async () => {
    const a = await createAgent()
    const before = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })
    const res = await importCar(a.accessJwt, new Uint8Array([1, 2, 3, 4, 5]))
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('InvalidRequest')
    expect((await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })).body).toEqual(
      before.body,
    )
  })
})

describe('importRepo on the firehose', () => {
  it('announces the import with one #sync carrying the signed head commit, and no #commit', async () => {
    const a = await createAgent()
    for (let i = 0; i < 5; i++)
      await xrpc('com.atproto.repo.createRecord', {
        token: a.accessJwt,
        body: { repo: a.did, collection: 'agent.memory.note', record: note(`moved ${i}`) },
      })
    const source = await exportRepo(a.did)
    const b = await createAgent()
    await drained(b.did)
    const before = (await relay().status()).seq

    const imported = await importCar(b.accessJwt, source.car)
    expect(imported.status).toBe(200)
    const events = await eventsOf(b.did, before)
    expect(events.map((e) => e.t)).toEqual(['#sync'])
    const sync = events[0]!
    expect(Object.keys(sync.body).sort()).toEqual(['blocks', 'did', 'rev', 'seq', 'time'])
    expect(typeof sync.body.time).toBe('string')
    // Jetstream v1 has no sync kind: the event renders to no messages.
    expect(sync.jet).toEqual([])

    const head = (await xrpc('com.atproto.sync.getLatestCommit', { params: { did: b.did } })).body
    expect(imported.body.commit).toEqual({ cid: head.cid, rev: head.rev })
    expect(sync.body.rev).toBe(head.rev)
    // The CAR (hashes checked): the new head as its one root, and the signed commit as its one block.
    const car = parseCar(fromBytes(sync.body.blocks as Bytes))
    expect(car.roots.map(cidToString)).toEqual([head.cid])
    expect([...car.blocks.keys()]).toEqual([head.cid])
    const commit = await verifyCommit(car.blocks.get(head.cid)!, await signingKey(b.did), b.did)
    expect(commit.rev).toBe(head.rev)
    expect(cidToString(commit.data)).toBe(cidToString(source.repo.data))

    // The next ordinary write is a #commit that follows on from the import's rev.
    const after = (await relay().status()).seq
    const written = await xrpc('com.atproto.repo.createRecord', {
      token: b.accessJwt,
      body: { repo: b.did, collection: 'agent.memory.note', record: note('after the move') },
    })
    expect(written.status).toBe(200)
    const next = await eventsOf(b.did, after)
    expect(next.map((e) => e.t)).toEqual(['#commit'])
    expect(next[0]!.body).toMatchObject({ repo: b.did, since: head.rev, rev: written.body.commit.rev })
    expect(next[0]!.body.ops).toHaveLength(1)
  })

  it('an import that changes nothing announces nothing', async () => {
    const a = await createAgent()
    await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', record: note('only') },
    })
    const source = await exportRepo(a.did)
    const b = await createAgent()
    expect((await importCar(b.accessJwt, source.car)).status).toBe(200)
    await drained(b.did)
    const before = (await relay().status()).seq
    expect((await importCar(b.accessJwt, source.car)).body).toEqual({})
    expect(await eventsOf(b.did, before)).toEqual([])
  })
})
