/**
 * End-to-end createRecord over HTTP: Murmur on a real `wrangler dev` (workerd,
 * Durable Objects, local SQLite) vs the reference atproto PDS (@atproto/pds,
 * on a thread of this process, SQLite via better-sqlite3, with a minimal
 * loopback PLC). Both on 127.0.0.1 with their state on the same disk, both
 * driven by Node's fetch with keep-alive, measured in alternating rounds so
 * machine noise hits both alike. @atproto/pds 0.4.217 is the newest release
 * that runs on Node 20: 0.5.x needs Node 22 (its undici 8 does not load on 20).
 *
 * Also measured, to see where the time goes: the floor (`GET /xrpc/_health`,
 * no storage), a storage read (`getLatestCommit`), and the in-memory core's
 * single-record commit rate (the ceiling: no HTTP, no SQLite).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { Secp256k1Keypair } from '@atproto/crypto'
import * as plc from '@did-plc/lib'
import { generateKeypair } from '../../src/atproto/keys.ts'
import { Repo, type RepoWrite } from '../../src/atproto/repo/index.ts'
import { createAccount, freePort, startNetwork } from '../../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from '../lib.ts'

const REF = '@atproto/pds 0.4.217'
const CEILING = 'in-memory core (ceiling)'
const AGENTS = 10
/** Seconds of load per scenario per round; two rounds per side. */
const SLICE = 2.5
const ROUNDS = 2

interface Writer {
  did: string
  jwt: string
}

interface Target {
  name: string
  url: string
  writers: Writer[]
  /** A DID to read the head of. */
  did: string
  stop: () => Promise<void>
}

interface Sample {
  ok: number
  failed: number
  seconds: number
  latencies: number[]
  errors: string[]
}

let counter = 0
function note() {
  counter++
  return {
    $type: 'agent.memory.note',
    text: `bench note ${counter}: the quick brown fox jumps over the lazy dog`,
    createdAt: new Date().toISOString(),
  }
}

async function createRecord(url: string, w: Writer): Promise<Response> {
  return fetch(`${url}/xrpc/com.atproto.repo.createRecord`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.jwt}`, 'content-type': 'application/json' },
    body: JSON.stringify({ repo: w.did, collection: 'agent.memory.note', record: note() }),
  })
}

type Call = (stream: number) => Promise<Response>

/** `streams` sequential request loops for `seconds`; every request's latency recorded. */
async function load(streams: number, seconds: number, call: Call): Promise<Sample> {
  const s: Sample = { ok: 0, failed: 0, seconds: 0, latencies: [], errors: [] }
  const start = performance.now()
  const until = start + seconds * 1000
  await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      while (performance.now() < until) {
        const t0 = performance.now()
        try {
          const res = await call(i)
          const body = await res.arrayBuffer()
          if (res.ok) {
            s.ok++
            s.latencies.push(performance.now() - t0)
          } else {
            s.failed++
            if (s.errors.length < 3)
              s.errors.push(`${res.status} ${new TextDecoder().decode(body).slice(0, 120)}`)
          }
        } catch (err) {
          s.failed++
          if (s.errors.length < 3) s.errors.push(String((err as Error)?.cause ?? err))
        }
      }
    }),
  )
  s.seconds = (performance.now() - start) / 1000
  return s
}

function merge(samples: Sample[]): Sample {
  return {
    ok: samples.reduce((n, s) => n + s.ok, 0),
    failed: samples.reduce((n, s) => n + s.failed, 0),
    seconds: samples.reduce((n, s) => n + s.seconds, 0),
    latencies: samples.flatMap((s) => s.latencies),
    errors: samples.flatMap((s) => s.errors),
  }
}

const rate = (s: Sample) => s.ok / s.seconds

// ── Murmur on wrangler dev ──

async function startMurmur(): Promise<Target> {
  const net = await startNetwork()
  try {
    const writers = await Promise.all(
      Array.from({ length: AGENTS }, async (_, i): Promise<Writer> => {
        const body = await createAccount(net, `bench${i}`)
        return { did: body.did, jwt: body.accessJwt }
      }),
    )
    return { name: 'Murmur', url: net.url, writers, did: writers[0]!.did, stop: () => net.stop() }
  } catch (err) {
    await net.stop()
    throw err
  }
}

// ── the reference PDS, in process, with a loopback PLC ──

/** Just enough of a PLC directory for a PDS: store operations, serve documents. */
async function startPlc(): Promise<{ url: string; server: Server }> {
  const ops = new Map<string, unknown[]>()
  const server = createServer(async (req, res) => {
    const [did, ...rest] = decodeURIComponent((req.url ?? '/').split('?')[0]!)
      .split('/')
      .filter(Boolean)
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (!did) return send(200, { version: 'bench' })
    if (req.method === 'POST') {
      let body = ''
      for await (const chunk of req) body += chunk
      ops.set(did, [...(ops.get(did) ?? []), JSON.parse(body)])
      return send(200, {})
    }
    const log = ops.get(did)
    if (!log) return send(404, { message: `DID not registered: ${did}` })
    const last = log.at(-1) as plc.CompatibleOpOrTombstone
    const data = plc.opToData(did, last)
    const path = rest.join('/')
    if (path === 'log/last') return send(200, last)
    if (path === 'log') return send(200, log)
    if (!data) return send(404, { message: `DID tombstoned: ${did}` })
    if (path === 'data') return send(200, data)
    return send(200, plc.formatDidDoc(data))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

/**
 * The reference PDS runs on its own thread of this process (a worker thread),
 * so that, like Murmur's workerd, it does not share an event loop with the
 * load generator. Plain CommonJS: @atproto/pds is CommonJS.
 */
const REFERENCE_THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const { PDS, envToCfg, envToSecrets } = require('node:module').createRequire(workerData.base)('@atproto/pds')
;(async () => {
  const pds = await PDS.create(envToCfg(workerData.env), envToSecrets(workerData.env))
  // PDS.start() listens on every interface; this listens on loopback only.
  await pds.ctx.sequencer.start()
  const server = pds.app.listen(workerData.env.port, '127.0.0.1')
  server.keepAliveTimeout = 90000
  server.once('error', (err) => parentPort.postMessage({ error: String(err.stack || err) }))
  server.once('listening', () => parentPort.postMessage({ listening: true }))
  parentPort.on('message', async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await pds.destroy()
    parentPort.postMessage({ stopped: true })
  })
})().catch((err) => parentPort.postMessage({ error: String((err && err.stack) || err) }))
`

async function startReference(): Promise<Target> {
  const plcServer = await startPlc()
  const dir = mkdtempSync(join(tmpdir(), 'murmur-bench-refpds-'))
  const port = await freePort()
  const rotation = await Secp256k1Keypair.create({ exportable: true })
  const env = {
    port,
    hostname: 'localhost',
    devMode: true,
    dataDirectory: dir,
    blobstoreDiskLocation: join(dir, 'blobs'),
    didPlcUrl: plcServer.url,
    inviteRequired: false,
    rateLimitsEnabled: false,
    serviceHandleDomains: ['.test'],
    jwtSecret: randomBytes(16).toString('hex'),
    adminPassword: randomBytes(16).toString('hex'),
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotation.export()).toString('hex'),
  }
  const thread = new Worker(REFERENCE_THREAD, {
    eval: true,
    workerData: { env, base: import.meta.url },
    // The PDS logs through pino; keep the benchmark's output (and its cost) out of it.
    env: { ...process.env, LOG_ENABLED: 'false' },
  })
  const message = () =>
    new Promise<{ error?: string }>((resolve, reject) => {
      thread.once('message', resolve)
      thread.once('error', reject)
    })
  const stopPlc = async () => {
    plcServer.server.closeAllConnections()
    await new Promise((resolve) => plcServer.server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  }
  const started = await message().catch((err: unknown) => ({ error: String(err) }))
  if (started.error) {
    await thread.terminate()
    await stopPlc()
    throw new Error(`reference PDS did not start: ${started.error}`)
  }
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    const stopped = message()
    thread.postMessage('stop')
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))])
    await thread.terminate()
    await stopPlc()
  }
  try {
    const writers = await Promise.all(
      Array.from({ length: AGENTS }, async (_, i): Promise<Writer> => {
        const res = await fetch(`${url}/xrpc/com.atproto.server.createAccount`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            handle: `bench${i}.test`,
            email: `bench${i}@example.com`,
            password: `bench${i}-password`,
          }),
        })
        const body = (await res.json()) as { did: string; accessJwt: string }
        if (!res.ok) throw new Error(`reference createAccount: ${res.status} ${JSON.stringify(body)}`)
        return { did: body.did, jwt: body.accessJwt }
      }),
    )
    return { name: REF, url, writers, did: writers[0]!.did, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

// ── the in-memory ceiling ──

async function ceilingCommitsPerSecond(seconds: number): Promise<number> {
  const key = await generateKeypair('p256')
  const repo = await Repo.create('did:plc:benchbenchbenchbenchbenc', key)
  let i = 0
  const write = (): RepoWrite[] => [
    { action: 'create', collection: 'agent.memory.note', rkey: `3k${String(1e10 + i++)}`, record: note() },
  ]
  for (let j = 0; j < 200; j++) await repo.applyWrites(write())
  let n = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    await repo.applyWrites(write())
    n++
  }
  return n / ((performance.now() - start) / 1000)
}

// ── the suite ──

interface Scenario {
  name: string
  streams: number
  call: (t: Target) => Call
}

const SCENARIOS: Scenario[] = [
  {
    name: 'createRecord, 1 agent sequential',
    streams: 1,
    call: (t) => () => createRecord(t.url, t.writers[0]!),
  },
  {
    name: 'createRecord, 10 agents × 1 stream',
    streams: AGENTS,
    call: (t) => (i) => createRecord(t.url, t.writers[i % AGENTS]!),
  },
  {
    name: 'createRecord, 50 in flight (10 agents × 5)',
    streams: 5 * AGENTS,
    call: (t) => (i) => createRecord(t.url, t.writers[i % AGENTS]!),
  },
]

const PROBES: Scenario[] = [
  {
    name: 'floor: GET _health, 50 in flight',
    streams: 50,
    call: (t) => () => fetch(`${t.url}/xrpc/_health`),
  },
  {
    name: 'read: getLatestCommit, 50 in flight',
    streams: 50,
    call: (t) => () => fetch(`${t.url}/xrpc/com.atproto.sync.getLatestCommit?did=${t.did}`),
  },
]

function report(name: string, s: Sample) {
  const fail = s.failed > 0 ? `, ${s.failed} failed (${[...new Set(s.errors)].join(' | ')})` : ''
  console.log(
    `    ${name.padEnd(56)} ${rate(s).toFixed(1).padStart(8)} req/s  p50 ${percentile(s.latencies, 50).toFixed(1)} ms  p99 ${percentile(s.latencies, 99).toFixed(1)} ms  (${s.ok} ok${fail})`,
  )
}

export default async function http(): Promise<BenchEntry[]> {
  const started = performance.now()
  const [ours, ref] = await Promise.all([startMurmur(), startReference()])
  const out: BenchEntry[] = []
  try {
    // Warm-up: JIT, connection pools, every agent's Durable Object / actor store.
    for (const t of [ours, ref]) {
      await load(AGENTS, 1, (i) => createRecord(t.url, t.writers[i % AGENTS]!))
      await load(1, 0.5, () => createRecord(t.url, t.writers[0]!))
      await load(50, 0.3, () => fetch(`${t.url}/xrpc/_health`))
    }
    console.log(`    (both started and warm in ${((performance.now() - started) / 1000).toFixed(1)} s)`)

    const measured = new Map<string, { ours: Sample[]; ref: Sample[] }>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const sc of [...SCENARIOS, ...PROBES]) {
        const slice = PROBES.includes(sc) ? SLICE / 2 : SLICE
        const m = measured.get(sc.name) ?? { ours: [], ref: [] }
        // Alternate which side goes first.
        if (round % 2 === 0) {
          m.ours.push(await load(sc.streams, slice, sc.call(ours)))
          m.ref.push(await load(sc.streams, slice, sc.call(ref)))
        } else {
          m.ref.push(await load(sc.streams, slice, sc.call(ref)))
          m.ours.push(await load(sc.streams, slice, sc.call(ours)))
        }
        measured.set(sc.name, m)
      }
    }

    let bestOurs = 0
    for (const sc of [...SCENARIOS, ...PROBES]) {
      const m = measured.get(sc.name)!
      const o = merge(m.ours)
      const r = merge(m.ref)
      report(`${sc.name} — Murmur`, o)
      report(`${sc.name} — reference`, r)
      if (SCENARIOS.includes(sc)) bestOurs = Math.max(bestOurs, rate(o))
      out.push(entry(`HTTP ${sc.name}`, 'req/s', rate(o), rate(r), REF, 'higher-is-better'))
      out.push(
        entry(
          `HTTP ${sc.name}, p50`,
          'ms',
          percentile(o.latencies, 50),
          percentile(r.latencies, 50),
          REF,
          'lower-is-better',
        ),
      )
      out.push(
        entry(
          `HTTP ${sc.name}, p99`,
          'ms',
          percentile(o.latencies, 99),
          percentile(r.latencies, 99),
          REF,
          'lower-is-better',
        ),
      )
    }

    // The ceiling: the same single-record commits with no HTTP and no SQLite.
    // Its ratio is the share of the in-memory rate that survives the HTTP path.
    const ceiling = await ceilingCommitsPerSecond(2)
    out.push(
      entry(
        'HTTP createRecord (best of the above) vs in-memory commits',
        'req/s',
        bestOurs,
        ceiling,
        CEILING,
        'higher-is-better',
      ),
    )
    console.log(`    (suite took ${((performance.now() - started) / 1000).toFixed(1)} s)`)
  } finally {
    await Promise.all([ours.stop(), ref.stop()])
  }
  return out
}
