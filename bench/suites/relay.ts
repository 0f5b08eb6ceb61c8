/**
 * The relay end to end on a real `wrangler dev`, driven by agents: commits made over HTTP by
 * many agents at once, delivered on `subscribeRepos` to 1, 10 and 100
 * WebSocket subscribers (Node `ws`, counting frames), and commit-to-subscriber
 * latency at a steady rate (send of the createRecord request → arrival of the
 * frame with that commit's repo and rev).
 *
 * One commit is one event, so the event rate is the commit rate of the HTTP
 * write path (createRecord through wrangler's local proxy), not the relay's;
 * `relay-crawl` (relay-crawl.ts) loads the relay itself.
 *
 * The floor, in the same run: a plain Node `ws` server on 127.0.0.1 on its own
 * thread, broadcasting messages of the same size to the same number of
 * subscribers, and echoing them for the round trip.
 */
import { decodeFrame } from '../../src/relay/frames.ts'
import { createAccount, startNetwork } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'
import { closeAll, FLOOR, floorBroadcast, floorEcho, startFloor, subscribe, until } from '../ws-floor.ts'

const AGENTS = 40
/** Request loops per agent while generating load. */
const STREAMS_PER_AGENT = 1
const LOAD_SECONDS = 4
const LATENCY_SECONDS = 5
const SUBSCRIBERS = [1, 10, 100]
const TARGET_RATE = 500

interface Writer {
  did: string
  jwt: string
}

let counter = 0
function createRecord(url: string, w: Writer): Promise<Response> {
  counter++
  return fetch(`${url}/xrpc/com.atproto.repo.createRecord`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.jwt}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      repo: w.did,
      collection: 'agent.memory.note',
      record: {
        $type: 'agent.memory.note',
        text: `relay bench note ${counter}: the quick brown fox jumps over the lazy dog`,
        createdAt: new Date().toISOString(),
      },
    }),
  })
}

/** `streams` request loops for `seconds`; returns successful writes. */
async function drive(
  url: string,
  writers: Writer[],
  seconds: number,
): Promise<{ ok: number; failed: number }> {
  let ok = 0
  let failed = 0
  const end = performance.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: writers.length * STREAMS_PER_AGENT }, async (_, i) => {
      while (performance.now() < end) {
        try {
          const res = await createRecord(url, writers[i % writers.length]!)
          const body = await res.text()
          if (res.ok) ok++
          else if (failed++ === 0) console.log(`    (first failure: ${res.status} ${body.slice(0, 120)})`)
        } catch (err) {
          if (failed++ === 0) console.log(`    (first failure: ${String((err as Error)?.cause ?? err)})`)
        }
      }
    }),
  )
  return { ok, failed }
}

// ── the suite ──

export default async function relay(): Promise<BenchEntry[]> {
  const started = performance.now()
  const net = await startNetwork()
  const floor = await startFloor()
  const out: BenchEntry[] = []
  try {
    const writers = await Promise.all(
      Array.from({ length: AGENTS }, async (_, i): Promise<Writer> => {
        const body = await createAccount(net, `relay${i}`)
        return { did: body.did, jwt: body.accessJwt }
      }),
    )
    const wsUrl = `${net.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos`
    // Warm-up: every agent's Durable Object, the relay, connection pools.
    {
      const subs = await subscribe(wsUrl, 1)
      await drive(net.url, writers, 1)
      await new Promise((r) => setTimeout(r, 300))
      closeAll(subs)
    }
    console.log(`    (started and warm in ${((performance.now() - started) / 1000).toFixed(1)} s)`)

    // Throughput: all agents writing flat out, S subscribers counting frames.
    let frameSize = 0
    let bestRate = 0
    for (const n of SUBSCRIBERS) {
      const subs = await subscribe(wsUrl, n)
      await new Promise((r) => setTimeout(r, 200))
      const start = performance.now()
      const { ok, failed } = await drive(net.url, writers, LOAD_SECONDS)
      const sentAt = performance.now()
      await until(() => subs.every((s) => s.frames >= ok), 10_000)
      // Delivered rate over each subscriber's own window, first frame to last.
      const rates = subs.map((s) => s.frames / (Math.max(1, s.last - s.first) / 1000))
      const perSub = percentile(rates, 50)
      const lag = percentile(
        subs.map((s) => s.last - sentAt),
        50,
      )
      const bytes = subs.reduce((a, s) => a + s.bytes, 0)
      const frames = subs.reduce((a, s) => a + s.frames, 0)
      frameSize = Math.max(frameSize, Math.round(bytes / Math.max(1, frames)))
      bestRate = Math.max(bestRate, ok / ((sentAt - start) / 1000))
      closeAll(subs)
      const floorRate = await floorBroadcast(floor.url, n, frameSize, n >= 100 ? 5_000 : 20_000)
      console.log(
        `    ${String(n).padStart(3)} subscribers: ${ok} commits (${failed} failed), ${(ok / LOAD_SECONDS).toFixed(0)} commits/s; ` +
          `delivered ${perSub.toFixed(0)} events/s per subscriber (${(perSub * n).toFixed(0)} frames/s total), ` +
          `last frame ${lag.toFixed(0)} ms after the last write; ${frames} frames of ~${frameSize} B; floor ${floorRate.toFixed(0)}/s per subscriber`,
      )
      out.push(
        entry(
          `relay events/s delivered per subscriber, ${n} subscriber${n > 1 ? 's' : ''}`,
          'events/s',
          perSub,
          floorRate,
          FLOOR,
          'higher-is-better',
        ),
      )
    }

    // Latency at a steady rate: 500/s, or 80% of what the write path sustained if that is less.
    const rate = Math.min(TARGET_RATE, Math.floor(bestRate * 0.8))
    const subs = await subscribe(wsUrl, 1)
    const sentAt = new Map<string, number>()
    const ackedAt = new Map<string, number>()
    const arrived = new Map<string, number>()
    subs[0]!.onFrame = (data, at) => {
      const { header, body } = decodeFrame<{ repo: string; rev: string }>(data)
      if ('t' in header && header.t === '#commit') arrived.set(`${body.repo} ${body.rev}`, at)
    }
    const total = Math.round(rate * LATENCY_SECONDS)
    const pending: Promise<void>[] = []
    let failed = 0
    const start = performance.now()
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate
      const wait = due - performance.now()
      if (wait > 1) await new Promise((r) => setTimeout(r, wait))
      const w = writers[i % writers.length]!
      const t0 = performance.now()
      pending.push(
        createRecord(net.url, w)
          .then(async (res) => {
            const body = (await res.json()) as { commit?: { rev: string } }
            if (res.ok && body.commit) {
              sentAt.set(`${w.did} ${body.commit.rev}`, t0)
              ackedAt.set(`${w.did} ${body.commit.rev}`, performance.now())
            } else failed++
          })
          .catch(() => {
            failed++
          }),
      )
    }
    await Promise.all(pending)
    const achieved = total / ((performance.now() - start) / 1000)
    await until(() => [...sentAt.keys()].every((k) => arrived.has(k)), 5000)
    closeAll(subs)
    const lat: number[] = []
    const http: number[] = []
    const afterAck: number[] = []
    for (const [k, t0] of sentAt) {
      const t1 = arrived.get(k)
      const ta = ackedAt.get(k)!
      http.push(ta - t0)
      if (t1 !== undefined) {
        lat.push(t1 - t0)
        afterAck.push(t1 - ta)
      }
    }
    const echo = await floorEcho(floor.url, frameSize, rate, 3)
    console.log(
      `    latency at ${rate} commits/s offered (${achieved.toFixed(0)}/s achieved, ${failed} failed): ` +
        `${lat.length}/${sentAt.size} matched, send→frame p50 ${percentile(lat, 50).toFixed(1)} ms p99 ${percentile(lat, 99).toFixed(1)} ms; ` +
        `(HTTP response p50 ${percentile(http, 50).toFixed(1)} p99 ${percentile(http, 99).toFixed(1)} ms; response→frame p50 ${percentile(afterAck, 50).toFixed(1)} p99 ${percentile(afterAck, 99).toFixed(1)} ms); ` +
        `ws echo RTT p50 ${percentile(echo, 50).toFixed(2)} ms p99 ${percentile(echo, 99).toFixed(2)} ms`,
    )
    out.push(
      entry(
        'relay commit→subscriber latency p50 (steady rate)',
        'ms',
        percentile(lat, 50),
        percentile(echo, 50),
        FLOOR,
        'lower-is-better',
      ),
    )
    out.push(
      entry(
        'relay commit→subscriber latency p99 (steady rate)',
        'ms',
        percentile(lat, 99),
        percentile(echo, 99),
        FLOOR,
        'lower-is-better',
      ),
    )
    out.push(
      entry(
        'relay steady rate used for latency',
        'events/s',
        rate,
        TARGET_RATE,
        'target',
        'higher-is-better',
      ),
    )
    console.log(`    (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  } finally {
    await Promise.all([net.stop(), floor.stop()])
  }
  return out
}
