/**
 * Memory: the offline embedding model, remember (a signed commit plus its
 * embedding), and agent.memory.search at 10,000 and 100,000 memories in one
 * agent, on a real `wrangler dev` with the embedding service `npm start` runs.
 *
 * Baselines, in the same run:
 * - embedding: the same model called in-process (no HTTP, no queue);
 * - remember: createRecord of the same note (the commit without waiting for
 *   its vector);
 * - search: an exact float32 scan with top-k in this Node process over the
 *   same number of 512-dimension vectors (no HTTP, no query embedding, no
 *   keyword side). Ours includes all of those.
 *
 * The corpus: 5,000 distinct sentences. The 10,000 and 100,000 memories repeat
 * them (2× and 20×), so the embedding service's cache spares the bench from
 * embedding 100,000 texts; the scan reads every vector either way.
 */

import { loadModel, startEmbedServer } from '../../src/memory/embed-server.ts'
import { HttpEmbedder, OFFLINE_MODEL_ID } from '../../src/memory/embedder.ts'
import { createAccount, type Network, startNetwork, xrpcPost } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'

const SUBJECTS = [
  'The deploy pipeline',
  'Alice',
  'The billing service',
  'Our mobile app',
  'The search index',
  'Bob',
  'The staging cluster',
  'The design review',
  'Carol',
  'The nightly backup',
  'The onboarding flow',
  'The GPU scheduler',
  'Dave',
  'The payment webhook',
  'The docs site',
  'The release train',
  'Erin',
  'The metrics dashboard',
  'The auth gateway',
  'The data warehouse',
]
const ACTIONS = [
  'failed after',
  'was moved to',
  'needs an owner for',
  'got faster thanks to',
  'broke because of',
  'is blocked on',
  'was approved for',
  'will be rewritten in',
  'depends on',
  'was rolled back after',
  'is waiting on',
  'now runs',
  'was reviewed by',
  'lost data during',
  'started using',
  'dropped support for',
  'was paused during',
  'doubled its cost with',
  'passed the audit for',
  'is scheduled with',
  'crashed under',
  'was tuned for',
  'gets alerts from',
  'was split from',
  'migrated away from',
]
const OBJECTS = [
  'the Postgres upgrade',
  'a memory leak',
  'the Friday freeze',
  'the new CDN',
  'the quarterly planning',
  'a flaky test suite',
  'the Kubernetes migration',
  'the security review',
  'the customer escalation',
  'the cost report',
]

function corpus(): string[] {
  const out: string[] = []
  for (const s of SUBJECTS) for (const a of ACTIONS) for (const o of OBJECTS) out.push(`${s} ${a} ${o}.`)
  return out
}

const QUERIES = [
  'which service had trouble with the database update?',
  'who is responsible for the phone application?',
  'what happened with the content delivery network?',
  'problems caused by unreliable tests',
  'anything about running out of memory?',
  'what was undone after the cluster move?',
  'which things are stuck waiting?',
  'audit results for the login proxy',
  'spending went up because of what?',
  'who looked at the planning documents?',
]

function unitVectors(n: number, dims: number): Float32Array {
  const m = new Float32Array(n * dims)
  for (let r = 0; r < n; r++) {
    let sum = 0
    for (let i = 0; i < dims; i++) {
      const v = Math.random() - 0.5
      m[r * dims + i] = v
      sum += v * v
    }
    const norm = Math.sqrt(sum)
    for (let i = 0; i < dims; i++) m[r * dims + i]! /= norm
  }
  return m
}

/** The naive peer: exact float32 dot products over every row, then the top 10. */
function exactScanMs(n: number, dims: number, queries: number): number[] {
  const m = unitVectors(n, dims)
  const q = unitVectors(1, dims)
  const times: number[] = []
  for (let k = 0; k < queries; k++) {
    const t0 = performance.now()
    const scores = new Float32Array(n)
    for (let r = 0; r < n; r++) {
      let s = 0
      for (let i = 0; i < dims; i++) s += q[i]! * m[r * dims + i]!
      scores[r] = s
    }
    const top = Array.from(scores.keys())
      .sort((a, b) => scores[b]! - scores[a]!)
      .slice(0, 10)
    if (top.length !== 10) throw new Error('scan')
    times.push(performance.now() - t0)
  }
  return times
}

async function embeddingThroughput(texts: string[]): Promise<BenchEntry> {
  const model = await loadModel()
  await model.embed(texts.slice(0, 8))
  const base = texts.slice(0, 512)
  let t0 = performance.now()
  for (let i = 0; i < base.length; i += 64) await model.embed(base.slice(i, i + 64))
  const inProcess = base.length / ((performance.now() - t0) / 1000)
  const server = await startEmbedServer({ port: 0 })
  try {
    const embedder = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    await embedder.embed(texts.slice(600, 608))
    const ours = texts.slice(1000, 1512)
    t0 = performance.now()
    for (let i = 0; i < ours.length; i += 64) await embedder.embed(ours.slice(i, i + 64))
    const viaService = ours.length / ((performance.now() - t0) / 1000)
    return entry(
      'memory: offline embedding (batches of 64)',
      'texts/s',
      viaService,
      inProcess,
      'same model in-process',
      'higher-is-better',
    )
  } finally {
    await server.close()
  }
}

const note = (text: string, i: number) => ({
  $type: 'agent.memory.note',
  text,
  importance: (i % 5) + 1,
  createdAt: new Date(Date.now() - i * 60_000).toISOString(),
})

async function ingest(net: Network, texts: string[]): Promise<BenchEntry> {
  const a = await createAccount(net, 'memingest')
  const b = await createAccount(net, 'memfloor')
  const n = 200
  let t0 = performance.now()
  for (let i = 0; i < n; i++)
    await xrpcPost(net.url, 'agent.memory.remember', { record: note(texts[2000 + i]!, i) }, a.accessJwt)
  const ours = n / ((performance.now() - t0) / 1000)
  t0 = performance.now()
  for (let i = 0; i < n; i++)
    await xrpcPost(
      net.url,
      'com.atproto.repo.createRecord',
      { repo: b.did, collection: 'agent.memory.note', record: note(texts[2500 + i]!, i) },
      b.accessJwt,
    )
  const floor = n / ((performance.now() - t0) / 1000)
  return entry(
    'memory: remember, sequential (incl. embedding)',
    'ops/s',
    ours,
    floor,
    'createRecord, same note',
    'higher-is-better',
  )
}

async function fill(
  net: Network,
  agent: { did: string; accessJwt: string },
  texts: string[],
  from: number,
  to: number,
) {
  for (let i = from; i < to; i += 200) {
    const writes = Array.from({ length: Math.min(200, to - i) }, (_, k) => ({
      $type: 'com.atproto.repo.applyWrites#create',
      collection: 'agent.memory.note',
      value: note(texts[(i + k) % texts.length]!, i + k),
    }))
    await xrpcPost(net.url, 'com.atproto.repo.applyWrites', { repo: agent.did, writes }, agent.accessJwt)
  }
}

async function searchLatency(net: Network, agent: { accessJwt: string }, rounds: number): Promise<number[]> {
  const times: number[] = []
  for (let r = 0; r < rounds; r++)
    for (const q of QUERIES) {
      const t0 = performance.now()
      const res = await fetch(`${net.url}/xrpc/agent.memory.search?q=${encodeURIComponent(q)}&limit=10`, {
        headers: { authorization: `Bearer ${agent.accessJwt}` },
      })
      const body = (await res.json()) as { results?: unknown[] }
      if (res.status !== 200 || body.results?.length !== 10)
        throw new Error(`search: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
      times.push(performance.now() - t0)
    }
  return times
}

export default async function memory(): Promise<BenchEntry[]> {
  const texts = corpus()
  const out: BenchEntry[] = [await embeddingThroughput(texts)]
  console.log(`  ${out[0]!.name}: ${out[0]!.ours} vs ${out[0]!.baseline}`)
  const net = await startNetwork()
  try {
    out.push(await ingest(net, texts))
    console.log(`  ${out[1]!.name}: ${out[1]!.ours} vs ${out[1]!.baseline}`)
    const agent = await createAccount(net, 'memsearch')
    // No retention: the default keeps 10,000 notes, and this agent is to hold 100,000.
    await xrpcPost(net.url, 'agent.memory.setRetention', { policy: {} }, agent.accessJwt)
    let have = 0
    for (const size of [10_000, 100_000]) {
      let t0 = performance.now()
      await fill(net, agent, texts, have, size)
      have = size
      const fillS = (performance.now() - t0) / 1000
      t0 = performance.now()
      // Rebuild the index, then wait for every vector (the alarm embeds them in the background).
      const rebuilt = await xrpcPost(net.url, 'agent.admin.reindex', { did: agent.did }, net.adminToken)
      for (;;) {
        const res = await fetch(`${net.url}/xrpc/agent.memory.getIndexStatus?repo=${agent.did}`, {
          headers: { authorization: `Bearer ${net.adminToken}` },
        })
        const status = (await res.json()) as { pending: number }
        if (res.status === 200 && status.pending === 0) break
        await new Promise((r) => setTimeout(r, 1000))
      }
      const reindexS = (performance.now() - t0) / 1000
      console.log(
        `  ${size} memories: written in ${fillS.toFixed(1)} s, reindexed (${rebuilt.records}) in ${reindexS.toFixed(1)} s`,
      )
      await searchLatency(net, agent, 1) // warm: loads the vector cache
      const ours = await searchLatency(net, agent, 5)
      const peer = exactScanMs(size, 512, 20)
      const label = size.toLocaleString('en-US')
      out.push(
        entry(
          `memory: search p50 @ ${label}`,
          'ms',
          percentile(ours, 50),
          percentile(peer, 50),
          'exact f32 scan in Node',
          'lower-is-better',
        ),
      )
      out.push(
        entry(
          `memory: search p99 @ ${label}`,
          'ms',
          percentile(ours, 99),
          percentile(peer, 99),
          'exact f32 scan in Node',
          'lower-is-better',
        ),
      )
    }
  } finally {
    await net.stop()
  }
  return out
}
