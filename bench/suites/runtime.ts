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
 * recall finds; each turn's note is deleted once written (see forgetTurn),
 * so every turn runs on the same memory.
 *
 * The peer baseline, in the same run: pi-agent-core's `Agent` in this Node
 * process on pi-ai's faux provider, with the same script (recall →
 * send_message → answer; recall → answer for the prompt) and tools that only
 * return text: the floor of the same agent loop with no network, no queue,
 * no memory search and no signed commits. Cloudflare's Agents SDK would be
 * the closer peer (a Durable Object per agent) but is not installed.
 */
import { Agent, type AgentTool } from '@mariozechner/pi-agent-core'
import {
  type AssistantMessage,
  type Context,
  fauxAssistantMessage,
  fauxText,
  fauxToolCall,
  registerFauxProvider,
  Type,
} from '@mariozechner/pi-ai'
import WebSocket from 'ws'
import { formatTid, parseTid } from '../../src/atproto/syntax/tid.ts'
import { createAccount, type Network, startNetwork, xrpcPost } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'

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
const BASELINE_TURNS = 2000
const TIMEOUT_MS = 10_000
/** A phase gives up after this many unanswered questions in a row. */
const GIVE_UP = 5
const QUESTION = 'What is the launch date?'
const ANSWER = 'Answer: '
const MESSAGE = 'agent.comms.message'
const NOTE = 'agent.memory.note'
/** What every answering agent knows: recall finds these three. */
const SEEDS = [
  'The launch date is June 3, 2027.',
  'The launch event is in Lisbon, at the river warehouse.',
  'The launch budget is 40,000 euros, approved by finance.',
]
const PEER = 'pi-agent-core in process'

type Account = { did: string; accessJwt: string }
type Rec = Record<string, unknown>

/** Wall-clock milliseconds with sub-millisecond resolution (the turn ids carry the Worker's wall clock). */
const wall = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Reply {
  /** When the reply's commit reached the stream. */
  t: number
  uri: string
  turn: string
  /** When the turn was created (the turn id's timestamp, ms). */
  created: number
  /** Length of the answer's text. */
  chars: number
  claimed: boolean
}

/** What the stream and the inbox sockets have shown, with when; waiters re-check on every event. */
class Observed {
  readonly times = new Map<string, number>()
  readonly replies = new Map<string, Reply[]>()
  private readonly listeners = new Set<() => void>()

  mark(key: string, t: number) {
    if (!this.times.has(key)) this.times.set(key, t)
    this.notify()
  }

  reply(did: string, r: Reply) {
    const list = this.replies.get(did) ?? []
    list.push(r)
    this.replies.set(did, list)
    this.notify()
  }

  /** The first reply of `did` whose turn was created at or after `since`, claimed for the caller. */
  claim(did: string, since: number): Reply | undefined {
    const hit = this.replies.get(did)?.find((r) => !r.claimed && r.created >= Math.floor(since) - 1)
    if (hit) hit.claimed = true
    return hit
  }

  waitFor<T>(check: () => T | undefined, ms: number): Promise<T | undefined> {
    const now = check()
    if (now !== undefined) return Promise.resolve(now)
    return new Promise((resolve) => {
      const done = (v: T | undefined) => {
        clearTimeout(timer)
        this.listeners.delete(listener)
        resolve(v)
      }
      const listener = () => {
        const v = check()
        if (v !== undefined) done(v)
      }
      const timer = setTimeout(() => done(undefined), ms)
      this.listeners.add(listener)
    })
  }

  private notify() {
    for (const l of [...this.listeners]) l()
  }
}

/** The turn that wrote a reply: its send_message is the turn's second call, at the turn id + 2 µs. */
function turnOfReply(rkey: string): { turn: string; created: number } {
  const { timestampUs, clockId } = parseTid(rkey)
  return { turn: formatTid(timestampUs - 2, clockId), created: Math.floor((timestampUs - 2) / 1000) }
}

async function follow(net: Network, seen: Observed): Promise<WebSocket> {
  const url = `${net.url.replace('http', 'ws')}/subscribe?wantedCollections=${MESSAGE}&wantedCollections=${NOTE}`
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: TIMEOUT_MS })
  ws.on('message', (data) => {
    const t = wall()
    const ev = JSON.parse(String(data)) as {
      did: string
      kind: string
      commit?: { operation: string; collection: string; rkey: string; record?: Rec }
    }
    const c = ev.commit
    if (ev.kind !== 'commit' || !c || c.operation !== 'create') return
    const uri = `at://${ev.did}/${c.collection}/${c.rkey}`
    const text = (c.record?.content as Rec | undefined)?.text
    if (typeof text === 'string' && text.startsWith(ANSWER))
      seen.reply(ev.did, { t, uri, ...turnOfReply(c.rkey), chars: text.length, claimed: false })
    seen.mark(`fh:${uri}`, t)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return ws
}

async function inboxSocket(net: Network, agent: Account, seen: Observed): Promise<WebSocket> {
  const ws = new WebSocket(`${net.url.replace('http', 'ws')}/xrpc/agent.comms.subscribeInbox`, {
    headers: { authorization: `Bearer ${agent.accessJwt}` },
    perMessageDeflate: false,
    handshakeTimeout: TIMEOUT_MS,
  })
  ws.on('message', (data) => {
    const t = wall()
    const item = JSON.parse(String(data)) as { uri?: string }
    if (item.uri) seen.mark(`inbox:${item.uri}`, t)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return ws
}

async function send(net: Network, from: Account, to: Account, text: string): Promise<string> {
  const record = {
    $type: MESSAGE,
    sender: from.did,
    recipient: to.did,
    content: { $type: 'agent.comms.defs#textContent', kind: 'text', text },
    createdAt: new Date().toISOString(),
  }
  const out = await xrpcPost(
    net.url,
    'com.atproto.repo.createRecord',
    { repo: from.did, collection: MESSAGE, record },
    from.accessJwt,
  )
  return out.uri as string
}

/**
 * An account, retried under a fresh handle if the Worker restarts mid-request
 * (wrangler dev reloads when a source file changes under it).
 */
async function account(net: Network, handle: string): Promise<Account> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await createAccount(net, attempt ? `${handle}r${attempt}` : handle)
    } catch (err) {
      if (attempt >= 3) throw err
      await sleep(2000)
    }
  }
}

/** An agent that wakes: a profile with no skills, on the offline script; three notes in its memory. */
async function agentWithProfile(net: Network, handle: string): Promise<Account> {
  const a = await account(net, handle)
  const record = {
    $type: 'agent.memory.profile',
    displayName: handle,
    model: 'offline',
    createdAt: new Date().toISOString(),
  }
  const createdAt = new Date().toISOString()
  for (let attempt = 0; ; attempt++) {
    try {
      await xrpcPost(
        net.url,
        'com.atproto.repo.putRecord',
        { repo: a.did, collection: 'agent.memory.profile', rkey: 'self', record },
        a.accessJwt,
      )
      for (const text of SEEDS) {
        const note = { $type: NOTE, text, tags: ['seed'], createdAt }
        await xrpcPost(
          net.url,
          'com.atproto.repo.createRecord',
          { repo: a.did, collection: NOTE, record: note },
          a.accessJwt,
        )
      }
      return a
    } catch (err) {
      if (attempt >= 3) throw err
      await sleep(2000)
    }
  }
}

/** One question's milestones, wall-clock ms. */
interface Trial {
  t0: number
  ack: number
  /** A's message on the stream. */
  onStream: number
  /** A's message pushed to B's inbox. */
  inbox: number
  /** The turn created (from its id: the Worker's clock, whole ms). */
  created: number
  /** B's reply on the stream. */
  reply: number
  /** The reply pushed to A's inbox. */
  back: number
  turn: string
}

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
 * Once the turn's note is written, delete it (outside the timed window), so
 * every turn recalls the same seeded notes. Kept, the notes compound: a
 * note records the answer, which quotes the notes recall found, so the
 * scripted answer grows about threefold a turn and passes the message's
 * 10,000 graphemes at an agent's fifth or sixth question (send_message then
 * fails and the question goes unanswered).
 */
async function forgetTurn(net: Network, seen: Observed, agent: Account, turn: string) {
  await seen.waitFor(() => seen.times.get(`fh:at://${agent.did}/${NOTE}/${turn}`), 5000)
  await xrpcPost(
    net.url,
    'com.atproto.repo.deleteRecord',
    { repo: agent.did, collection: NOTE, rkey: turn },
    agent.accessJwt,
  ).catch(() => undefined)
}

const stats = (xs: number[]) => ({
  p50: percentile(xs, 50),
  p99: percentile(xs, 99),
  mean: xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length),
})
const fmt = (xs: number[]) => {
  const s = stats(xs)
  return `p50 ${s.p50.toFixed(1)} / p99 ${s.p99.toFixed(1)} / mean ${s.mean.toFixed(1)} ms`
}

/** The consumer's `turn done <id> <ms> ms` lines: the time inside runTurn, by turn id. */
function consumerTimes(net: Network): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of net.output().matchAll(/turn done (\S+) (\d+) ms/g)) out.set(m[1]!, Number(m[2]))
  return out
}

function report(label: string, trials: Trial[], consumer: Map<string, number>) {
  const d = (f: (t: Trial) => number) => trials.map(f)
  console.log(`    ${label}: ${trials.length} answered`)
  const rows: Array<[string, number[]]> = [
    ['inbox item → first tool write (B inbox push → reply on stream)', d((t) => t.reply - t.inbox)],
    ['A message on stream → B reply on stream', d((t) => t.reply - t.onStream)],
    ['end to end: A sends → answer in A inbox', d((t) => t.back - t.t0)],
    ['  createRecord acknowledged', d((t) => t.ack - t.t0)],
    ['  A sends → A message on stream', d((t) => t.onStream - t.t0)],
    ['  A message on stream → B inbox push (delivery)', d((t) => t.inbox - t.onStream)],
    ['  turn created → reply on stream (queue + turn to 1st write)', d((t) => t.reply - t.created)],
    ['  reply on stream → A inbox push (delivery back)', d((t) => t.back - t.reply)],
  ]
  const inConsumer = trials.map((t) => consumer.get(t.turn)).filter((x): x is number => x !== undefined)
  for (const [name, xs] of rows) console.log(`      ${name.padEnd(64)} ${fmt(xs)}`)
  console.log(
    `      ${'  runTurn in the consumer (its log; whole turn, ms clock)'.padEnd(64)} ${fmt(inConsumer)} (${inConsumer.length} matched)`,
  )
}

// ---- The peer: pi-agent-core in process ----

const textResult = (text: string) => ({ content: [{ type: 'text' as const, text }], details: {} })

/** One in-process turn on the faux provider; times to the send_message call and to the end, ms. */
async function baselineTurn(reply: boolean): Promise<{ write: number; done: number }> {
  const faux = registerFauxProvider({ provider: 'baseline', models: [{ id: 'scripted' }] })
  const step = (ctx: Context): AssistantMessage => {
    const results = ctx.messages.filter((m) => m.role === 'toolResult').length
    if (results === 0)
      return fauxAssistantMessage([fauxToolCall('recall', { query: QUESTION }, { id: 'call_1' })], {
        stopReason: 'toolUse',
      })
    if (results === 1 && reply)
      return fauxAssistantMessage(
        [fauxToolCall('send_message', { to: 'did:example:a', text: `${ANSWER}nothing` }, { id: 'call_2' })],
        { stopReason: 'toolUse' },
      )
    return fauxAssistantMessage(fauxText('Answered.'))
  }
  faux.setResponses([step, step, step, step])
  let write = Number.NaN
  const t0 = performance.now()
  const tools: AgentTool[] = [
    {
      name: 'recall',
      label: 'Recall',
      description: 'Search your memory.',
      parameters: Type.Object({ query: Type.String() }),
      execute: async () => textResult('nothing found'),
    },
    {
      name: 'send_message',
      label: 'Send message',
      description: 'Send a text message to another agent.',
      parameters: Type.Object({ to: Type.String(), text: Type.String() }),
      execute: async () => {
        write = performance.now() - t0
        return textResult('sent')
      },
    },
  ]
  try {
    const agent = new Agent({
      initialState: { systemPrompt: 'Answer briefly.', model: faux.getModel(), tools, thinkingLevel: 'off' },
      toolExecution: 'sequential',
    })
    await agent.prompt(`Message from did:example:a (at://did:example:a/${MESSAGE}/x): ${QUESTION}`)
    return { write, done: performance.now() - t0 }
  } finally {
    faux.unregister()
  }
}

async function baseline(concurrency: number) {
  const write: number[] = []
  const done: number[] = []
  const promptDone: number[] = []
  const per = Math.ceil(BASELINE_TURNS / concurrency)
  for (let warm = 0; warm < 2; warm++) {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < per; i++) {
          const r = await baselineTurn(true)
          const p = await baselineTurn(false)
          if (warm === 0) continue
          write.push(r.write)
          done.push(r.done)
          promptDone.push(p.done)
        }
      }),
    )
  }
  return { write, done, promptDone }
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

/** An entry whose ratio keeps two significant digits: ours is hundreds of times the in-process floor. */
function timed(name: string, ours: number, base: number): BenchEntry {
  const e = entry(name, 'ms', ours, base, PEER, 'lower-is-better')
  return { ...e, ratio: ours > 0 && base > 0 ? Number((base / ours).toPrecision(2)) : null }
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
