/**
 * The relay itself under load, through the path other hosts' events take: a
 * network under test (real `wrangler dev`) follows a bench host
 * (upstream-host.ts) with `requestCrawl`. Each upstream commit is verified
 * (signature, inductive proof), sequenced, stored and fanned out on
 * `subscribeRepos` to 1, 10 and 100 subscribers. Then latency at a steady
 * 500 events/s: upstream sends the frame → a subscriber of ours receives it.
 *
 * The floor, in the same run: a plain Node `ws` server on its own thread,
 * broadcasting messages of the same size to the same number of subscribers,
 * and echoing them for the round trip.
 */
import { decodeFrame } from '../../src/relay/frames.ts'
import { startNetwork, xrpcPost } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'
import { startBenchHost } from '../upstream-host.ts'
import { closeAll, FLOOR, floorBroadcast, floorEcho, startFloor, subscribe, until } from '../ws-floor.ts'

const REPOS = 100
const WARM = 1000
const RUNS: Array<[subscribers: number, events: number]> = [
  [1, 10_000],
  [10, 10_000],
  [100, 3_000],
]
const RATE = 500
const LATENCY_SECONDS = 5

export default async function relayCrawl(): Promise<BenchEntry[]> {
  const started = performance.now()
  const [net, host, floor] = await Promise.all([startNetwork(), startBenchHost(REPOS), startFloor()])
  const out: BenchEntry[] = []
  try {
    const total = WARM + RUNS.reduce((a, [, n]) => a + n, 0) + RATE * LATENCY_SECONDS
    const t = performance.now()
    await host.make(total)
    console.log(
      `    (${total} signed upstream commits over ${REPOS} repos made in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    )
    const wsUrl = `${net.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos`

    // Warm-up: the crawl connects, resolves every DID once, and the relay's path is compiled.
    let published = WARM
    host.publish(published)
    {
      const [sub] = await subscribe(`${wsUrl}?cursor=0`, 1)
      await xrpcPost(net.url, 'com.atproto.sync.requestCrawl', { hostname: host.host }, net.adminToken)
      await until(() => sub!.frames >= WARM, 120_000)
      if (sub!.frames < WARM) throw new Error(`warm-up: ${sub!.frames}/${WARM} events arrived`)
      closeAll([sub!])
    }
    console.log(`    (started and warm in ${((performance.now() - started) / 1000).toFixed(1)} s)`)

    let frameSize = 0
    for (const [n, events] of RUNS) {
      const subs = await subscribe(wsUrl, n)
      await new Promise((r) => setTimeout(r, 200))
      const start = performance.now()
      published += events
      host.publish(published)
      await until(() => subs.every((s) => s.frames >= events), 120_000)
      const done = Math.max(...subs.map((s) => s.last))
      const got = Math.min(...subs.map((s) => s.frames))
      const rate = got / ((done - start) / 1000)
      const perSub = percentile(
        subs.map((s) => s.frames / (Math.max(1, s.last - s.first) / 1000)),
        50,
      )
      frameSize = Math.round(subs[0]!.bytes / Math.max(1, subs[0]!.frames))
      closeAll(subs)
      const floorRate = await floorBroadcast(floor.url, n, frameSize, n >= 100 ? 5_000 : 20_000)
      console.log(
        `    ${String(n).padStart(3)} subscribers: ${got}/${events} events to every subscriber in ${((done - start) / 1000).toFixed(1)} s = ` +
          `${rate.toFixed(0)} events/s sequenced and delivered (${(rate * n).toFixed(0)} frames/s out; median subscriber ${perSub.toFixed(0)}/s); ` +
          `frames ~${frameSize} B; floor ${floorRate.toFixed(0)}/s per subscriber`,
      )
      out.push(
        entry(
          `relay (crawl) events/s to all of ${n} subscriber${n > 1 ? 's' : ''}`,
          'events/s',
          rate,
          floorRate,
          FLOOR,
          'higher-is-better',
        ),
      )
    }

    // Latency at a steady rate: upstream send → our subscriber.
    const [sub] = await subscribe(wsUrl, 1)
    const arrived = new Map<string, number>()
    sub!.onFrame = (data, at) => {
      const { body } = decodeFrame<{ repo: string; rev: string }>(data)
      arrived.set(`${body.repo} ${body.rev}`, at)
    }
    const count = RATE * LATENCY_SECONDS
    const first = published + 1
    const start = performance.now()
    for (let i = 0; i < count; i++) {
      const wait = start + (i * 1000) / RATE - performance.now()
      if (wait > 1) await new Promise((r) => setTimeout(r, wait))
      host.publish(++published)
    }
    const offered = count / ((performance.now() - start) / 1000)
    await until(() => arrived.size >= count, 30_000)
    closeAll([sub!])
    const lat: number[] = []
    for (let seq = first; seq <= published; seq++) {
      const key = host.keyOf(seq)
      const a = arrived.get(key)
      const s = host.sentAt.get(key)
      if (a !== undefined && s !== undefined) lat.push(a - s)
    }
    const echo = await floorEcho(floor.url, frameSize, RATE, 3)
    console.log(
      `    latency at ${RATE} events/s (${offered.toFixed(0)}/s offered): ${lat.length}/${count} arrived; ` +
        `upstream send → our subscriber p50 ${percentile(lat, 50).toFixed(1)} ms p99 ${percentile(lat, 99).toFixed(1)} ms; ` +
        `ws echo RTT p50 ${percentile(echo, 50).toFixed(2)} ms p99 ${percentile(echo, 99).toFixed(2)} ms`,
    )
    out.push(
      entry(
        `relay (crawl) latency p50 at ${RATE} events/s`,
        'ms',
        percentile(lat, 50),
        percentile(echo, 50),
        FLOOR,
        'lower-is-better',
      ),
    )
    out.push(
      entry(
        `relay (crawl) latency p99 at ${RATE} events/s`,
        'ms',
        percentile(lat, 99),
        percentile(echo, 99),
        FLOOR,
        'lower-is-better',
      ),
    )
    console.log(`    (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  } finally {
    await Promise.all([net.stop(), host.stop(), floor.stop()])
  }
  return out
}
