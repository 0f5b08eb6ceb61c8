/**
 * Turn latency on the offline scripted model, on a real `wrangler dev`.
 *
 * A sender A (no profile: a mailbox) writes `agent.comms.message` "qN: What
 * is the launch date?" to a receiver B (a profile, no skills, model
 * `offline`). B's inbox accepts it, which queues a turn on `murmur-turns`;
 * the consumer runs the script for a plain agent: recall → send_message
 * "Answer: …" back to A → the final answer, then writes the turn's note.
 * The bench follows the network's Jetstream stream (`/subscribe`) and the
 * inbox push sockets of A and B, and times, per message:
 *
 * - inbox item → first tool write: B's inbox push of A's message (the
 *   moment the inbox row and the turn row are created together) to the
 *   stream's event of B's reply (its `send_message`, the turn's first
 *   write). Also from A's message on the stream, which adds delivery.
 * - end to end: A's createRecord sent → the reply pushed to A's inbox.
 * - the breakdown: createRecord acknowledged, A's message on the stream,
 *   delivered to B's inbox, the turn created (its id is a TID of the wall
 *   clock when the inbox accepted the item), B's reply on the stream, the
 *   reply in A's inbox; and the consumer's own `turn done <id> <ms> ms`.
 * - prompt → turn done: agent.runtime.prompt("What is the launch date?")
 *   (recall → answer), getTurn polled every 10 ms until `done`.
 * - delivery only: A → C, C without a profile, to C's inbox push.
 * - concurrent: 10 sender/receiver pairs at once, each pair one message at a
 *   time (the next once the answer is back and the turn's note written).
 *
 * Messages are spread over 10 receivers because an agent starts at most 30
 * inbox turns a minute (WAKE_LIMIT_PER_MINUTE); each receiver, and each
 * pair's, gets 21. Every answering agent holds three seeded notes, which
 * recall finds; each turn's note is deleted once written (forgetTurn),
 * so every turn runs on the same memory.
 *
 * The peer baseline, in the same run: pi-agent-core's `Agent` in this Node
 * process on the same script (see ../runtime-baseline.ts).
 */
import type WebSocket from 'ws'
import { type Network, startNetwork, xrpcPost } from '../../test/e2e/network.ts'
import { type BenchEntry, percentile, sleep, wall } from '../lib.ts'
import { baseline } from '../runtime-baseline.ts'
import {
  type Account,
  account,
  agentWithProfile,
  follow,
  forgetTurn,
  inboxSocket,
  Observed,
  QUESTION,
  send,
  TIMEOUT_MS,
} from '../runtime-network.ts'
import { consumerTimes, fmt, report, stats, type Trial, timed } from '../runtime-report.ts'

const TRIALS = 200
/** One per receiver: each agent's first turn wakes its Durable Object. */
const WARM = 10
/** Receivers of the sequential run, round robin: 21 inbox turns each, under the 30 a minute. */
const RECEIVERS = 10
const PAIRS = 10
const PAIR_TRIALS = 20
const PAIR_WARM = 1
const PROMPTS = 50
const PROMPT_WARM = 5
const DELIVERIES = 50
const DELIVERY_WARM = 5
/** Direct timings of the memory search a turn makes twice (pinned context, recall). */
const PROBES = 20
/** A phase gives up after this many unanswered questions in a row. */
const GIVE_UP = 5

async function trial(net: Network, seen: Observed, a: Account, b: Account, n: number): Promise<Trial | null> {
  const t0 = wall()
  const uri = await send(net, a, b, `q${n}: ${QUESTION}`)
  const ack = wall()
  const reply = await seen.waitFor(() => seen.claim(b.did, t0), TIMEOUT_MS)
  if (!reply) return null
  const at = (key: string) => seen.waitFor(() => seen.times.get(key), TIMEOUT_MS)
  const [onStream, inbox, back] = await Promise.all([
    at(`fh:${uri}`),
    at(`inbox:${uri}`),
    at(`inbox:${reply.uri}`),
  ])
  await forgetTurn(net, seen, b, reply.turn)
  if (onStream === undefined || inbox === undefined || back === undefined) return null
  return { t0, ack, onStream, inbox, created: reply.created, reply: reply.t, back, turn: reply.turn }
}

/**
 * Where a turn's time goes, measured directly: the offline embedding service
 * on a fresh (uncached) question, and agent.memory.search (query embedding,
 * vector and keyword search) on a receiver's memory. A turn searches twice
 * before its first write: the pinned context, then recall (same text: the
 * second embedding is a cache hit).
 */
async function probes(net: Network, agent: Account) {
  const embedUrl = /embed server listening on (http:\/\/\S+)/.exec(net.output())?.[1]
  const embed: number[] = []
  const search: number[] = []
  for (let i = 0; i < PROBES; i++) {
    if (embedUrl) {
      const t0 = wall()
      const res = await fetch(`${embedUrl}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: `probe ${i} ${Math.random()}: ${QUESTION}` }),
      })
      await res.arrayBuffer()
      if (res.ok) embed.push(wall() - t0)
    }
    const q = encodeURIComponent(`search ${i} ${Math.random()}: ${QUESTION}`)
    const t0 = wall()
    const res = await fetch(`${net.url}/xrpc/agent.memory.search?q=${q}&limit=3`, {
      headers: { authorization: `Bearer ${agent.accessJwt}` },
    })
    await res.arrayBuffer()
    if (res.ok) search.push(wall() - t0)
  }
  return { embed, search }
}

// ---- The runs ----

async function sequential(net: Network, seen: Observed, a: Account, receivers: Account[]): Promise<Trial[]> {
  const trials: Trial[] = []
  let missed = 0
  let inARow = 0
  for (let i = 0; i < WARM + TRIALS; i++) {
    const t = await trial(net, seen, a, receivers[i % receivers.length]!, i)
    if (!t) missed++
    else if (i >= WARM) trials.push(t)
    inARow = t ? 0 : inARow + 1
    if (inARow >= GIVE_UP) {
      console.log(`    sequential: gave up after ${GIVE_UP} unanswered questions in a row`)
      break
    }
  }
  if (missed) console.log(`    sequential: ${missed} questions got no answer within ${TIMEOUT_MS} ms`)
  return trials
}

async function concurrent(net: Network, seen: Observed, pairs: Array<[Account, Account]>): Promise<Trial[]> {
  const trials: Trial[] = []
  let missed = 0
  const start = wall()
  await Promise.all(
    pairs.map(async ([a, b], p) => {
      for (let i = 0; i < PAIR_WARM + PAIR_TRIALS; i++) {
        const t = await trial(net, seen, a, b, 1000 * (p + 1) + i)
        if (!t) missed++
        else if (i >= PAIR_WARM) trials.push(t)
        if (missed >= GIVE_UP * PAIRS) break
      }
    }),
  )
  const seconds = (wall() - start) / 1000
  console.log(
    `    concurrent: ${PAIRS} pairs, ${PAIRS * (PAIR_WARM + PAIR_TRIALS)} turns in ${seconds.toFixed(1)} s, note cleanup included ` +
      `(${((PAIRS * (PAIR_WARM + PAIR_TRIALS)) / seconds).toFixed(1)} turns/s)` +
      (missed ? `; ${missed} unanswered within ${TIMEOUT_MS} ms` : ''),
  )
  return trials
}

async function prompts(net: Network, seen: Observed, p: Account): Promise<number[]> {
  const out: number[] = []
  let inARow = 0
  for (let i = 0; i < PROMPT_WARM + PROMPTS; i++) {
    const t0 = wall()
    const { turn } = (await xrpcPost(net.url, 'agent.runtime.prompt', { text: QUESTION }, p.accessJwt)) as {
      turn: string
    }
    let state = 'queued'
    while (state !== 'done' && state !== 'failed' && wall() - t0 < TIMEOUT_MS) {
      const res = await fetch(`${net.url}/xrpc/agent.runtime.getTurn?turn=${turn}`, {
        headers: { authorization: `Bearer ${p.accessJwt}` },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      state = ((await res.json()) as { turn?: { state?: string } }).turn?.state ?? 'queued'
      if (state !== 'done' && state !== 'failed') await sleep(10)
    }
    if (state === 'done' && i >= PROMPT_WARM) out.push(wall() - t0)
    if (state === 'done') await forgetTurn(net, seen, p, turn)
    inARow = state === 'done' ? 0 : inARow + 1
    if (inARow >= GIVE_UP) {
      console.log(`    prompts: gave up after ${GIVE_UP} turns in a row not done within ${TIMEOUT_MS} ms`)
      break
    }
  }
  return out
}

async function deliveries(net: Network, seen: Observed, a: Account, c: Account) {
  const fromSend: number[] = []
  const fromStream: number[] = []
  for (let i = 0; i < DELIVERY_WARM + DELIVERIES; i++) {
    const t0 = wall()
    const uri = await send(net, a, c, `delivery ${i}`)
    const inbox = await seen.waitFor(() => seen.times.get(`inbox:${uri}`), TIMEOUT_MS)
    const onStream = seen.times.get(`fh:${uri}`)
    if (i < DELIVERY_WARM || inbox === undefined || onStream === undefined) continue
    fromSend.push(inbox - t0)
    fromStream.push(inbox - onStream)
  }
  return { fromSend, fromStream }
}

export default async function runtime(): Promise<BenchEntry[]> {
  const started = performance.now()
  const base = await baseline(1)
  const baseConc = await baseline(PAIRS)
  console.log(
    `    baseline (pi-agent-core Agent in process, faux provider, ${base.write.length} turns): ` +
      `to send_message ${fmt(base.write)}; whole turn ${fmt(base.done)}; recall→answer ${fmt(base.promptDone)}`,
  )
  console.log(`    baseline, ${PAIRS} agents at once: to send_message ${fmt(baseConc.write)}`)

  const net = await startNetwork()
  const sockets: WebSocket[] = []
  try {
    const seen = new Observed()
    const range = (n: number) => Array.from({ length: n }, (_, i) => i)
    const [a, c, prompted, receivers, senders, pairAgents] = await Promise.all([
      account(net, 'rtsender'),
      account(net, 'rtmailbox'),
      agentWithProfile(net, 'rtprompted'),
      Promise.all(range(RECEIVERS).map((i) => agentWithProfile(net, `rtagent${i}`))),
      Promise.all(range(PAIRS).map((i) => account(net, `rtpairsend${i}`))),
      Promise.all(range(PAIRS).map((i) => agentWithProfile(net, `rtpairagent${i}`))),
    ])
    const pairs = senders.map((s, i): [Account, Account] => [s, pairAgents[i]!])
    sockets.push(await follow(net, seen))
    for (const acct of [a, c, ...receivers, ...pairs.flat()]) sockets.push(await inboxSocket(net, acct, seen))
    console.log(
      `    network up, ${3 + RECEIVERS + 2 * PAIRS} accounts, in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )

    const delivery = await deliveries(net, seen, a, c)
    const seq = await sequential(net, seen, a, receivers)
    const conc = await concurrent(net, seen, pairs)
    const promptTimes = await prompts(net, seen, prompted)
    const probe = await probes(net, receivers[0]!)
    await sleep(500) // the last turns' log lines
    const consumer = consumerTimes(net)
    console.log(
      `    delivery only, A → C (no profile), ${delivery.fromSend.length}: A sends → C inbox push ` +
        `${fmt(delivery.fromSend)}; from A's message on the stream ${fmt(delivery.fromStream)}`,
    )
    report(`sequential, 1 sender → ${RECEIVERS} receivers round robin`, seq, consumer)
    report(`concurrent, ${PAIRS} pairs`, conc, consumer)
    console.log(`    prompt → getTurn done (polled every 10 ms), ${promptTimes.length}: ${fmt(promptTimes)}`)
    console.log(`    embedding service, one fresh question: ${fmt(probe.embed)}`)
    console.log(`    agent.memory.search over XRPC (a receiver: its 3 seeded notes): ${fmt(probe.search)}`)
    const chars = [...seen.replies.values()].flat().map((r) => r.chars)
    console.log(`    answer text length: p50 ${percentile(chars, 50)}, max ${Math.max(...chars)} characters`)
    const reloads = net.output().split('Reloading local server').length - 1
    if (reloads > 0)
      console.log(
        `    ⚠ wrangler reloaded the Worker ${reloads} time(s) during the run (a source file changed)`,
      )
    const times = (ours: number[], base: number[]) => (percentile(ours, 50) / percentile(base, 50)).toFixed(0)
    console.log(
      `    ours / in-process floor at p50: inbox→first write ${times(
        seq.map((t) => t.reply - t.inbox),
        base.write,
      )}×, end to end ${times(
        seq.map((t) => t.back - t.t0),
        base.done,
      )}×, prompt→done ${times(promptTimes, base.promptDone)}×`,
    )
    console.log(`    (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)`)

    const s = stats(seq.map((t) => t.reply - t.inbox))
    const e = stats(seq.map((t) => t.back - t.t0))
    const p = stats(promptTimes)
    const cw = stats(conc.map((t) => t.reply - t.inbox))
    const b = stats(base.write)
    const bd = stats(base.done)
    const bp = stats(base.promptDone)
    const bc = stats(baseConc.write)
    return [
      timed('runtime inbox item→first tool write p50', s.p50, b.p50),
      timed('runtime inbox item→first tool write p99', s.p99, b.p99),
      timed('runtime inbox item→first tool write mean', s.mean, b.mean),
      timed('runtime question→answer end to end p50', e.p50, bd.p50),
      timed('runtime question→answer end to end p99', e.p99, bd.p99),
      timed('runtime prompt→turn done p50', p.p50, bp.p50),
      timed('runtime prompt→turn done p99', p.p99, bp.p99),
      timed(`runtime inbox→first write p50, ${PAIRS} pairs`, cw.p50, bc.p50),
      timed(`runtime inbox→first write p99, ${PAIRS} pairs`, cw.p99, bc.p99),
    ]
  } finally {
    for (const ws of sockets) ws.terminate()
    await net.stop()
  }
}
