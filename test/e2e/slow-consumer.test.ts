/**
 * A firehose subscriber that never reads, against a real `wrangler dev`
 * network with a small flow-control bound: the relay sends it a
 * `ConsumerTooSlow` error frame and closes it (1008), while a subscriber that
 * reads, and a fresh one afterwards, keep streaming.
 *
 * workerd has no `WebSocket.bufferedAmount`, so the relay cannot see whether a
 * socket is read: it estimates each socket's unread bytes as "bytes sent,
 * drained at an assumed floor rate" (fanout.ts). Two sockets that receive the
 * same frames from the same moment have the same estimate, read or not: a
 * reader that had joined with the paused one would be cut off with it (under
 * traffic above the drain rate, every live socket is). So the reading
 * subscriber here joins later than the paused one, and the traffic is metered
 * so that only the paused one's share passes the bound:
 *
 *   paused P opens ─ phase 1: 0.6 × bound ─ reading R opens ─ phase 2: 0.55 × bound ─ 10 more
 *
 * P is sent over 1.15 × bound, so it is cut off at the bound, part-way through
 * phase 2; R is sent ~0.7 × bound. The drain rate is tiny (1 KiB/s), so the
 * estimate is close to a plain byte count and the margins do not depend on
 * how fast this machine writes. A meter subscriber, open from P's start until
 * R's, measures phase 1 (it is closed before its own estimate nears the bound).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { decodeFrame } from '../../src/relay/frames.ts'
import { type Network, startNetwork, xrpcPost } from './network.ts'

const BOUND = 128 * 1024
const DRAIN = 1024 // bytes/s
const AGENTS = 4
/** A cap on writes per phase, so a broken meter cannot loop for ever (a phase needs ~60). */
const MAX_PHASE_WRITES = 400

let net: Network
beforeAll(async () => {
  net = await startNetwork({
    env: { MURMUR_RELAY_MAX_BUFFERED_BYTES: String(BOUND), MURMUR_RELAY_DRAIN_BYTES_PER_SEC: String(DRAIN) },
  })
})
afterAll(() => net?.stop())

interface Frame {
  header: { op: number; t?: string }
  body: Record<string, unknown>
  bytes: number
}

/** A raw subscriber: every frame, decoded and sized, in arrival order. */
class Sub {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const { header, body } = decodeFrame(new Uint8Array(data))
      this.frames.push({ header, body, bytes: data.byteLength })
    })
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    )
  }
  /** Commits after `seq`. */
  commits(after = 0): Frame[] {
    return this.frames.filter((f) => f.header.t === '#commit' && (f.body.seq as number) > after)
  }
  seqs(): number[] {
    return this.frames.filter((f) => f.header.op === 1).map((f) => f.body.seq as number)
  }
  bytes(after = 0): number {
    return this.commits(after).reduce((n, f) => n + f.bytes, 0)
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

/** A failed wait may be wrangler reloading the Worker (a source file changed), which drops every socket. */
function diagnosis(): string {
  return net.output().includes('Reloading local server')
    ? ' (wrangler reloaded the Worker during the run)'
    : ''
}

async function until(pred: () => boolean, what: string, ms = 20_000) {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${diagnosis()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

function expectGapFree(seqs: number[], from: number, to: number) {
  expect(seqs).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i))
}

type Agent = { did: string; accessJwt: string }

async function note(agent: Agent, text: string): Promise<void> {
  const record = { $type: 'agent.memory.note', text, createdAt: new Date().toISOString() }
  await xrpcPost(
    net.url,
    'com.atproto.repo.createRecord',
    { repo: agent.did, collection: 'agent.memory.note', record },
    agent.accessJwt,
  )
}

describe('a firehose subscriber that never reads', () => {
  it('gets ConsumerTooSlow and is closed; a reading subscriber and a fresh one keep streaming', async () => {
    const agents: Agent[] = []
    let writes = 0
    /** The agents write in parallel, each in sequence, until `done()` (checked before each write). */
    const writeUntil = async (done: () => boolean, what: string) => {
      const cap = writes + MAX_PHASE_WRITES
      await Promise.all(
        agents.map(async (a, i) => {
          while (!done()) {
            if (writes >= cap) throw new Error(`${what}: not done after ${MAX_PHASE_WRITES} writes`)
            writes++
            await note(a, `agent ${i} write ${writes}`)
          }
        }),
      )
    }

    const subs: Sub[] = []
    try {
      // Agents, and their #identity/#account/genesis #commit events all sequenced before P opens.
      const first = await subscribe()
      subs.push(first)
      for (let i = 0; i < AGENTS; i++) {
        const a = await xrpcPost(
          net.url,
          'com.atproto.server.createAccount',
          { handle: `slow${i}`, password: `slow-pw-${i}` },
          net.adminToken,
        )
        agents.push({ did: a.did, accessJwt: a.accessJwt })
      }
      const startP = AGENTS * 3
      await until(() => first.seqs().length >= startP, 'the agents’ events')
      first.close()

      // P stops reading at once; the meter M starts from the same seq and reads.
      const paused = await subscribe()
      subs.push(paused)
      paused.ws.pause()
      const opened = Date.now()
      const meter = await subscribe()
      subs.push(meter)

      // Phase 1: ~0.6 × bound to P (and to M), then every frame in, then M goes.
      await writeUntil(() => meter.bytes(startP) >= 0.6 * BOUND, 'phase 1')
      await until(() => meter.commits(startP).length >= writes, 'phase 1 frames')
      const phase1 = meter.bytes(startP)
      const startR = startP + writes
      meter.close()

      // Phase 2: R opens and reads; 0.55 × bound more, which takes P past the bound.
      const reading = await subscribe()
      subs.push(reading)
      await writeUntil(() => reading.bytes(startR) >= 0.55 * BOUND, 'phase 2')
      await until(() => reading.commits(startR).length >= startP + writes - startR, 'phase 2 frames')
      const phase2 = reading.bytes(startR)
      expect(phase1 + phase2).toBeGreaterThan(1.1 * BOUND) // P's share: past the bound, with room for the drain
      expect(phase2).toBeLessThan(0.8 * BOUND) // R's share: well under it

      // P read nothing so far. Now it reads what was sent to it: the commits up to the
      // bound, then ConsumerTooSlow; the close (1008) follows.
      expect(paused.frames).toHaveLength(0)
      paused.ws.resume()
      // workerd holds a closed hibernatable socket's TCP connection open until the object is
      // evicted (~10 s, docs/relay.md), so wait for P's close while the rest goes on.
      const pausedClosed = timeout(paused.closed, 60_000, 'the slow consumer’s close')
      await until(() => paused.frames.some((f) => f.header.op === -1), 'the ConsumerTooSlow frame')
      const elapsed = (Date.now() - opened) / 1000
      // The server's close frame came with it (ws is CLOSING once it has one; this side never closed).
      await until(() => paused.ws.readyState >= WebSocket.CLOSING, 'the close frame', 5000)

      // R and a fresh subscriber (a short replay, then live) both get the writes after P's end.
      // (Replays are paced to half the bound at DRAIN, so a long one would crawl here.)
      const head = startP + writes
      const fresh = await subscribe(`?cursor=${head - 5}`)
      subs.push(fresh)
      await until(() => fresh.seqs().length >= 5, 'the fresh replay')
      await writeUntil(() => writes >= head - startP + 10, 'after the slow consumer')
      const end = startP + writes
      await until(() => reading.seqs().length >= end - startR, 'R: the writes after P')
      await until(() => fresh.seqs().length >= end - head + 5, 'the fresh subscriber: live')
      await new Promise((r) => setTimeout(r, 300)) // anything extra (a duplicate) would show up now

      // P: the commits from its start, no gap, then the error frame, and nothing after it.
      const last = paused.frames.at(-1)!
      expect({ header: last.header, body: last.body }).toEqual({
        header: { op: -1 },
        body: { error: 'ConsumerTooSlow', message: 'Stream consumer too slow' },
      })
      const got = paused.frames.slice(0, -1)
      expect(got.every((f) => f.header.t === '#commit')).toBe(true)
      const cut = startP + got.length // P's last seq
      expectGapFree(
        got.map((f) => f.body.seq as number),
        startP + 1,
        cut,
      )
      // Cut off at the bound: one frame more would have passed it, and what P got fits (its
      // estimate drained at DRAIN meanwhile). The cut fell in phase 2, so R holds the next frame.
      expect(cut).toBeGreaterThan(startR)
      expect(cut).toBeLessThan(head)
      const sent = got.reduce((n, f) => n + f.bytes, 0)
      const next = reading.commits(cut).find((f) => f.body.seq === cut + 1)!
      expect(sent + next.bytes).toBeGreaterThan(BOUND)
      expect(sent).toBeLessThanOrEqual(BOUND + DRAIN * elapsed)
      console.log(
        `bound ${BOUND} B: P was sent ${phase1} + ${phase2} B, cut off after ${got.length} commits (${sent} B); R got ${reading.bytes()} B`,
      )
      expect(await pausedClosed).toEqual({ code: 1008, reason: 'ConsumerTooSlow' })

      // R: every event since it opened, no gap, no error, still open.
      expectGapFree(reading.seqs(), startR + 1, end)
      expect(reading.frames.every((f) => f.header.op === 1)).toBe(true)
      expect(reading.ws.readyState, `R's state${diagnosis()}`).toBe(WebSocket.OPEN)
      // The fresh subscriber: the replay, then live, no gap.
      expectGapFree(fresh.seqs(), head - 4, end)
      expect(fresh.ws.readyState).toBe(WebSocket.OPEN)
    } finally {
      for (const s of subs) s.close()
    }
  })
})
