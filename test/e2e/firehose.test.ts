/**
 * The firehose against a real `wrangler dev` network: agents write over HTTP,
 * their outboxes drain into the relay, and `com.atproto.sync.subscribeRepos`
 * streams every commit exactly once, in seq order, with no gap: live, replayed
 * from a cursor, and consumed by @atproto/sync's Firehose, which verifies each
 * commit's signature and proofs with keys resolved through our directory: it
 * replays the history, then stays live while 5 agents × 200 writes happen.
 */
import { Firehose } from '@atproto/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { decodeFrame } from '../../src/relay/frames.ts'
import { type Network, startNetwork, xrpcPost } from './network.ts'

const AGENTS = 3
const WRITES = 30
/** The load the Firehose consumes live: each agent writes in sequence, the agents in parallel. */
const LOAD_AGENTS = 5
const LOAD_WRITES = 200

let net: Network
beforeAll(async () => {
  net = await startNetwork()
})
afterAll(() => net?.stop())

interface CommitBody {
  seq: number
  repo: string
  rev: string
  ops: { action: string; path: string }[]
}
interface Frame {
  header: { op: number; t?: string }
  body: Record<string, unknown>
}

/** Why a wait may have failed: the socket closed, or wrangler reloaded the Worker (a source file changed). */
function diagnosis(ws?: WebSocket): string {
  const why: string[] = []
  if (ws && ws.readyState !== WebSocket.OPEN)
    why.push(`the socket is ${['connecting', 'open', 'closing', 'closed'][ws.readyState]}`)
  if (net.output().includes('Reloading local server')) why.push('wrangler reloaded the Worker during the run')
  return why.length ? ` (${why.join('; ')})` : ''
}

/** A raw subscriber: every frame, decoded, in arrival order. */
class Sub {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.frames.push(decodeFrame(new Uint8Array(data)) as Frame))
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    )
  }
  /** The commits of writes (a new agent's genesis commit has no ops). */
  commits(): CommitBody[] {
    return this.frames
      .filter((f) => f.header.t === '#commit')
      .map((f) => f.body as unknown as CommitBody)
      .filter((c) => c.ops.length > 0)
  }
  /** Every event's seq: writes' commits, and each new agent's #identity, #account and genesis #commit. */
  seqs(): number[] {
    return this.frames.filter((f) => f.header.op === 1).map((f) => f.body.seq as number)
  }
  async until(pred: () => boolean, what: string, ms = 30_000) {
    const deadline = Date.now() + ms
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${diagnosis(this.ws)}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  close() {
    this.ws.terminate()
  }
}

function subscribe(query = ''): Promise<Sub> {
  const url = `${net.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos${query}`
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const sub = new Sub(ws)
    ws.once('open', () => resolve(sub))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

const post = (method: string, body: unknown, token: string) => xrpcPost(net.url, method, body, token)

async function note(agent: { did: string; accessJwt: string }, text: string): Promise<string> {
  const record = { $type: 'agent.memory.note', text, createdAt: new Date().toISOString() }
  const res = await post(
    'com.atproto.repo.createRecord',
    { repo: agent.did, collection: 'agent.memory.note', record },
    agent.accessJwt,
  )
  return res.commit.rev as string
}

function expectGapFree(seqs: number[], from: number, to: number) {
  expect(seqs).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i))
}

describe('subscribeRepos against wrangler dev', () => {
  const written = new Map<string, string[]>() // did → revs in write order
  const agents: { did: string; accessJwt: string }[] = []
  let total = 0 // writes
  let head = 0 // the newest seq

  it('streams every commit of 3 agents × 30 writes to a live subscriber exactly once, in order', async () => {
    const live = await subscribe('?cursor=')
    for (let i = 0; i < AGENTS; i++) {
      const a = await post(
        'com.atproto.server.createAccount',
        { handle: `fire${i}`, password: `fire-pw-${i}` },
        net.adminToken,
      )
      agents.push({ did: a.did, accessJwt: a.accessJwt })
      written.set(a.did, [])
    }
    await Promise.all(
      agents.map(async (a, i) => {
        for (let w = 0; w < WRITES; w++) written.get(a.did)!.push(await note(a, `a${i} w${w}`))
      }),
    )
    total = AGENTS * WRITES
    head = AGENTS * 3 + total
    await live.until(() => live.seqs().length >= head, `${head} events`)
    await new Promise((r) => setTimeout(r, 300)) // anything extra (a duplicate) would show up now
    const commits = live.commits()
    expect(commits).toHaveLength(total)
    expectGapFree(live.seqs(), 1, head)
    for (const [did, revs] of written)
      expect(commits.filter((c) => c.repo === did).map((c) => c.rev)).toEqual(revs)
    for (const c of commits) expect(c.ops).toHaveLength(1)
    live.close()
  })

  it('replays from cursor 0 and from the middle, then goes live without a gap', async () => {
    const fromZero = await subscribe('?cursor=0')
    const fromMiddle = await subscribe('?cursor=45')
    await fromZero.until(() => fromZero.seqs().length >= head, 'the replay from 0')
    await fromMiddle.until(() => fromMiddle.seqs().length >= head - 45, 'the replay from 45')
    // One more write, which both must get live, right after their replay.
    const agent = agents[0]!
    written.get(agent.did)!.push(await note(agent, 'after the replay'))
    total += 1
    head += 1
    await fromZero.until(() => fromZero.seqs().length >= head, 'the live commit (from 0)')
    await fromMiddle.until(() => fromMiddle.seqs().length >= head - 45, 'the live commit (from 45)')
    expectGapFree(fromZero.seqs(), 1, head)
    expectGapFree(fromMiddle.seqs(), 46, head)
    expect(fromZero.commits()).toHaveLength(total)
    const kinds = new Set(fromZero.frames.map((f) => f.header.t))
    expect(kinds).toEqual(new Set(['#commit', '#identity', '#account']))
    fromZero.close()
    fromMiddle.close()
  })

  it('answers a future cursor with a FutureCursor error frame and closes', async () => {
    const sub = await subscribe(`?cursor=${head + 1000}`)
    const { code } = await sub.closed
    expect(code).toBe(1008)
    expect(sub.frames).toEqual([
      { header: { op: -1 }, body: { error: 'FutureCursor', message: 'Cursor in the future.' } },
    ])
  })

  it('refuses a malformed cursor with a 400 before the upgrade', async () => {
    for (const cursor of ['abc', '-1', '1.5', '99999999999999999999'])
      await expect(subscribe(`?cursor=${cursor}`)).rejects.toThrow('HTTP 400')
    const res = await fetch(`${net.url}/xrpc/com.atproto.sync.subscribeRepos?cursor=x`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'InvalidRequest' })
  })

  it(`@atproto/sync's Firehose verifies every commit while ${LOAD_AGENTS} agents × ${LOAD_WRITES} writes happen`, async () => {
    // The oracle: a raw subscriber from cursor 0 (the history above, then live).
    const raw = await subscribe('?cursor=0')
    const docs = new Map<string, any>()
    const resolve = async (did: string) => {
      if (!docs.has(did)) docs.set(did, await (await fetch(`${net.url}/did/${did}`)).json())
      return docs.get(did)
    }
    const idResolver = {
      did: {
        resolve,
        resolveAtprotoKey: async (did: string) => {
          const doc = await resolve(did)
          const vm = doc.verificationMethod.find((v: { id: string }) => v.id.endsWith('#atproto'))
          return `did:key:${vm.publicKeyMultibase}`
        },
      },
    }
    // Every event the Firehose hands over (a genesis commit has no ops, so it yields none).
    const seen: { seq: number; did: string; rev?: string; event: string }[] = []
    const errors: Error[] = []
    let cursor = 0
    let connects = 0 // getCursor runs once per connection: a silent reconnect would show here
    const firehose = new Firehose({
      service: net.url.replace('http', 'ws'),
      idResolver: idResolver as any,
      // #identity events: take the handle as sent (this fake resolver does not resolve handles).
      unauthenticatedHandles: true,
      getCursor: () => {
        connects++
        return cursor
      },
      handleEvent: (evt) => {
        seen.push({ seq: evt.seq, did: evt.did, rev: 'rev' in evt ? evt.rev : undefined, event: evt.event })
        cursor = evt.seq
      },
      onError: (err) => errors.push(err),
    })
    const running = firehose.start()
    const creates = () => seen.filter((e) => e.event === 'create')
    try {
      // New agents (not timed: their events are sequenced before the load starts, so the
      // load's commits get one contiguous range of seqs).
      const loaders: { did: string; accessJwt: string }[] = []
      for (let i = 0; i < LOAD_AGENTS; i++) {
        const a = await post(
          'com.atproto.server.createAccount',
          { handle: `load${i}`, password: `load-pw-${i}` },
          net.adminToken,
        )
        loaders.push({ did: a.did, accessJwt: a.accessJwt })
        written.set(a.did, [])
      }
      head += LOAD_AGENTS * 3
      await raw.until(() => raw.seqs().length >= head, 'the new agents’ events')
      const loadFrom = head + 1

      // The load: each agent writes in sequence, the agents in parallel, while the Firehose reads.
      const started = Date.now()
      await Promise.all(
        loaders.map(async (a, i) => {
          for (let w = 0; w < LOAD_WRITES; w++) written.get(a.did)!.push(await note(a, `load${i} w${w}`))
        }),
      )
      const writeMs = Date.now() - started
      total += LOAD_AGENTS * LOAD_WRITES
      head += LOAD_AGENTS * LOAD_WRITES
      const behind = creates().length
      const deadline = Date.now() + 30_000
      while (creates().length < total && errors.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25))
      await raw.until(() => raw.seqs().length >= head, `${head} events (raw)`)
      await new Promise((r) => setTimeout(r, 300)) // anything extra (a duplicate) would show up now
      console.log(
        `${LOAD_AGENTS * LOAD_WRITES} writes in ${writeMs} ms; the Firehose had verified ${behind} of ${total} commits when they ended`,
      )

      expect(errors, diagnosis()).toEqual([])
      expect(connects, `connections made by the Firehose${diagnosis()}`).toBe(1)
      // The oracle got every event once, in order; the Firehose got all of them but the genesis commits.
      expectGapFree(raw.seqs(), 1, head)
      const genesis = (f: Frame) => f.header.t === '#commit' && (f.body.ops as unknown[]).length === 0
      const expected = raw.frames.filter((f) => f.header.op === 1 && !genesis(f)).map((f) => f.body.seq)
      expect(seen.map((e) => e.seq)).toEqual(expected)
      const got = creates()
      expect(got.map((e) => e.seq)).toEqual(raw.commits().map((c) => c.seq))
      // The load's commits, each verified: one contiguous range of seqs, no gap, no repeat.
      expectGapFree(
        seen.filter((e) => e.seq >= loadFrom).map((e) => e.seq),
        loadFrom,
        head,
      )
      expect(seen.filter((e) => e.seq >= loadFrom).every((e) => e.event === 'create')).toBe(true)
      expect(got).toHaveLength(total)
      for (const [did, revs] of written)
        expect(got.filter((e) => e.did === did).map((e) => e.rev)).toEqual(revs)
    } finally {
      await firehose.destroy()
      await running
      raw.close()
    }
  })
})
