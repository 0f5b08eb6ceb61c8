/**
 * Agent-to-agent messaging on a real `wrangler dev`: every message is a
 * record in the sender's repo → the relay → the router → the Queue → the
 * recipient verifies it against the sender's repo → its inbox → its inbox
 * push socket (`agent.comms.subscribeInbox`).
 *
 * - Round trip A → B → A: B answers each message the moment its push
 *   arrives; A times its write to the arrival of B's answer. The floor, in
 *   the same run: the two createRecord calls the trip cannot avoid (A's
 *   write, then B's), back to back.
 * - Throughput: 100 agents, each writing messages to random others as fast
 *   as it can; messages delivered (pushed) per second, against the messages
 *   written per second by the same loops.
 */
import WebSocket from 'ws'
import { createAccount, type Network, startNetwork, xrpcPost } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'

const TRIPS = 100
const WARM_TRIPS = 10
const AGENTS = 100
const LOAD_SECONDS = 5

type Agent = { did: string; accessJwt: string }
/** A pushed inbox item, as far as the bench reads it. */
type Pushed = { record: { content: { text: string } } }

function message(net: Network, from: Agent, to: Agent, text: string) {
  const record = {
    $type: 'agent.comms.message',
    sender: from.did,
    recipient: to.did,
    content: { $type: 'agent.comms.defs#textContent', kind: 'text', text },
    createdAt: new Date().toISOString(),
  }
  return xrpcPost(
    net.url,
    'com.atproto.repo.createRecord',
    { repo: from.did, collection: 'agent.comms.message', record },
    from.accessJwt,
  )
}

/** An agent's inbox push socket; `onItem` sees each pushed item. */
async function inboxSocket(net: Network, agent: Agent, onItem: (item: Pushed) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${net.url.replace('http', 'ws')}/xrpc/agent.comms.subscribeInbox`, {
    headers: { authorization: `Bearer ${agent.accessJwt}` },
    perMessageDeflate: false,
  })
  ws.on('message', (data) => onItem(JSON.parse(String(data)) as Pushed))
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return ws
}

async function roundTrips(net: Network, a: Agent, b: Agent): Promise<{ trips: number[]; floor: number[] }> {
  const sockets: WebSocket[] = []
  try {
    // B answers every message it is pushed.
    sockets.push(
      await inboxSocket(net, b, (item) => {
        void message(net, b, a, `re: ${item.record.content.text}`)
      }),
    )
    const waiting = new Map<string, (at: number) => void>()
    sockets.push(
      await inboxSocket(net, a, (item) => {
        const text = String(item.record.content.text).slice(4)
        waiting.get(text)?.(performance.now())
      }),
    )
    const trips: number[] = []
    for (let i = 0; i < WARM_TRIPS + TRIPS; i++) {
      const text = `trip ${i}`
      const back = new Promise<number>((resolve) => waiting.set(text, resolve))
      const t0 = performance.now()
      await message(net, a, b, text)
      const t1 = await Promise.race([
        back,
        new Promise<number>((r) => setTimeout(() => r(Number.NaN), 10_000)),
      ])
      if (i >= WARM_TRIPS && !Number.isNaN(t1)) trips.push(t1 - t0)
    }
    // The floor: A's write and B's write, back to back, nothing waiting on delivery.
    const floor: number[] = []
    for (let i = 0; i < TRIPS; i++) {
      const t0 = performance.now()
      await message(net, a, b, `floor ${i}`)
      await message(net, b, a, `floor ${i}`)
      floor.push(performance.now() - t0)
    }
    return { trips, floor }
  } finally {
    for (const s of sockets) s.terminate()
  }
}

async function throughput(net: Network, agents: Agent[]): Promise<{ written: number; delivered: number }> {
  let pushed = 0
  let lastPush = 0
  const sockets = await Promise.all(
    agents.map((ag) =>
      inboxSocket(net, ag, () => {
        pushed++
        lastPush = performance.now()
      }),
    ),
  )
  try {
    let written = 0
    const start = performance.now()
    const end = start + LOAD_SECONDS * 1000
    await Promise.all(
      agents.map(async (from, i) => {
        for (let n = 0; performance.now() < end; n++) {
          const to = agents[(i + 1 + ((n * 7) % (agents.length - 1))) % agents.length]!
          try {
            await message(net, from, to, `load ${i}.${n}`)
            written++
          } catch {}
        }
      }),
    )
    const writeSeconds = (performance.now() - start) / 1000
    const deadline = performance.now() + 60_000
    while (pushed < written && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    console.log(
      `    ${AGENTS} agents: ${written} messages written in ${writeSeconds.toFixed(1)} s; ` +
        `${pushed} pushed to inboxes, the last ${((lastPush - start) / 1000).toFixed(1)} s after the start`,
    )
    return { written: written / writeSeconds, delivered: pushed / ((lastPush - start) / 1000) }
  } finally {
    for (const s of sockets) s.terminate()
  }
}

export default async function comms(): Promise<BenchEntry[]> {
  const started = performance.now()
  const net = await startNetwork()
  try {
    const a = await createAccount(net, 'bencha')
    const b = await createAccount(net, 'benchb')
    const { trips, floor } = await roundTrips(net, a, b)
    console.log(
      `    round trip A → B → A: ${trips.length}/${TRIPS} answered; p50 ${percentile(trips, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(trips, 99).toFixed(1)} ms; two createRecords back to back p50 ${percentile(floor, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(floor, 99).toFixed(1)} ms`,
    )
    const agents: Agent[] = []
    for (let i = 0; i < AGENTS; i++) agents.push(await createAccount(net, `benchload${i}`))
    const { written, delivered } = await throughput(net, agents)
    console.log(`    (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)`)
    const floorName = 'two createRecords (floor)'
    return [
      entry(
        'comms round trip A→B→A p50',
        'ms',
        percentile(trips, 50),
        percentile(floor, 50),
        floorName,
        'lower-is-better',
      ),
      entry(
        'comms round trip A→B→A p99',
        'ms',
        percentile(trips, 99),
        percentile(floor, 99),
        floorName,
        'lower-is-better',
      ),
      entry(
        `comms messages/s delivered, ${AGENTS} agents`,
        'messages/s',
        delivered,
        written,
        'messages written/s',
        'higher-is-better',
      ),
    ]
  } finally {
    await net.stop()
  }
}
