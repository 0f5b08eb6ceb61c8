/**
 * The Jetstream-compatible stream against a real `wrangler dev` network,
 * consumed by @atcute/jetstream (which connects with requireHello and a µs
 * cursor, then sends its filters as an options_update). Each subscriber gets
 * exactly the events its collection filter matches, and an options_update
 * changes the filter mid-stream.
 *
 * `agent.comms.*` has no lexicon yet (issue 5), and `agent.*` writes are
 * validated strictly, so this uses `agent.memory.*` and `com.example.*`
 * (written with validate off) for the two filters.
 */
import { JetstreamSubscription } from '@atcute/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Network, startNetwork, xrpcPost } from './network.ts'

let net: Network
beforeAll(async () => {
  net = await startNetwork()
})
afterAll(() => net?.stop())

const post = (method: string, body: unknown, token: string) => xrpcPost(net.url, method, body, token)

interface Agent {
  did: string
  accessJwt: string
}
interface Seen {
  did: string
  kind: string
  commit?: {
    operation: string
    collection: string
    rkey: string
    cid?: string
    record?: Record<string, unknown>
  }
}

/** A write; returns `did collection rkey operation` as the stream should report it. */
async function write(a: Agent, collection: string, text: string): Promise<string> {
  const record = collection.startsWith('agent.')
    ? { text, createdAt: new Date().toISOString() }
    : { $type: collection, text }
  const validate = collection.startsWith('agent.') ? undefined : false
  const res = await post(
    'com.atproto.repo.createRecord',
    { repo: a.did, collection, record, validate },
    a.accessJwt,
  )
  const rkey = String(res.uri).split('/').pop()
  return `${a.did} ${collection} ${rkey} create`
}

const key = (e: Seen) => `${e.did} ${e.commit?.collection} ${e.commit?.rkey} ${e.commit?.operation}`

/** A running @atcute/jetstream subscription that collects its events until stopped. */
function subscribe(wantedCollections: string[]) {
  const events: Seen[] = []
  const errors: unknown[] = []
  let opened = false
  const sub = new JetstreamSubscription({
    url: net.url.replace('http', 'ws'),
    wantedCollections,
    onError: (err) => errors.push(err),
    onConnectionOpen: () => {
      opened = true
    },
    ws: { WebSocket, maxRetries: 0 },
  })
  const iter = sub[Symbol.asyncIterator]()
  const pump = (async () => {
    for (;;) {
      const r = await iter.next()
      if (r.done) return
      events.push(r.value as Seen)
    }
  })()
  return {
    sub,
    events,
    errors,
    opened: () => opened,
    stop: async () => {
      await iter.return?.()
      await Promise.race([pump, new Promise((r) => setTimeout(r, 1000))])
    },
  }
}

async function until(pred: () => boolean, what: string, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
const settle = () => new Promise((r) => setTimeout(r, 500))

describe('Jetstream /subscribe against wrangler dev', () => {
  it('@atcute/jetstream gets exactly the matching events; options_update changes the filter', async () => {
    const agents: Agent[] = []
    for (const handle of ['jeta', 'jetb']) {
      const a = await post(
        'com.atproto.server.createAccount',
        { handle, password: `${handle}-password` },
        net.adminToken,
      )
      agents.push({ did: a.did, accessJwt: a.accessJwt })
    }
    const [a, b] = agents as [Agent, Agent]
    const com = subscribe(['com.example.*'])
    const mem = subscribe(['agent.memory.*'])
    try {
      await until(() => com.opened() && mem.opened(), 'both connections')
      const wantCom: string[] = []
      const wantMem: string[] = []
      wantMem.push(await write(a, 'agent.memory.note', 'a1'))
      wantCom.push(await write(a, 'com.example.ping', 'p1'))
      await write(b, 'org.other.thing', 'ignored by both')
      wantCom.push(await write(b, 'com.example.pong', 'p2'))
      wantMem.push(await write(b, 'agent.memory.note', 'b1'))
      await until(() => com.events.length >= 2 && mem.events.length >= 2, 'the first events')
      await settle() // anything extra would show up now
      // Each repo's events are in order; two repos' outboxes may interleave either way.
      expect(com.events.map(key).sort()).toEqual(wantCom.sort())
      expect(mem.events.map(key).sort()).toEqual(wantMem.sort())
      const ping = com.events.find((e) => e.commit?.collection === 'com.example.ping')!
      expect(ping.kind).toBe('commit')
      expect(ping.commit?.record).toEqual({ $type: 'com.example.ping', text: 'p1' })
      expect(ping.commit?.cid).toMatch(/^bafyrei/)
      expect(mem.events.find((e) => e.did === b.did)!.commit?.record).toMatchObject({ text: 'b1' })

      // Mid-stream: the com.example.* subscriber now wants agent.memory.* from B only.
      com.sub.updateOptions({
        wantedCollections: ['agent.memory.*'],
        wantedDids: [b.did as `did:${string}:${string}`],
      })
      await settle()
      const more = com.events.length
      const memAll = [...wantMem, await write(a, 'agent.memory.note', 'a2')]
      await write(b, 'com.example.ping', 'p3')
      const fromB = await write(b, 'agent.memory.note', 'b2')
      memAll.push(fromB)
      await until(() => com.events.length > more && mem.events.length >= 4, 'events after the update')
      await settle()
      expect(com.events.slice(more).map(key)).toEqual([fromB])
      expect(mem.events.map(key).sort()).toEqual(memAll.sort())
      expect([...com.errors, ...mem.errors]).toEqual([])
    } finally {
      await com.stop()
      await mem.stop()
    }
  })

  it('refuses a malformed filter with HTTP 400', async () => {
    const res = await fetch(`${net.url}/subscribe?wantedCollections=bad..nsid`)
    expect(res.status).toBe(400)
  })
})
