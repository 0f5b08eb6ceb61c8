/**
 * A minimal atproto host for the relay bench, in Node: R repos with did:cf
 * identities (operation logs served at `/did/<did>/log/audit`) and a
 * `subscribeRepos` firehose of real, signed sync 1.1 commits made with
 * Murmur's core. The network under test follows it with requestCrawl, so the
 * relay is loaded through a production path (verify, sequence, fan out) at
 * rates the HTTP write path cannot offer.
 *
 * Frames are made ahead of time; the bench then publishes them, all at once
 * (throughput) or at a steady rate (latency), and records when each was sent.
 */
import { createServer, type Server } from 'node:http'
import WebSocket, { WebSocketServer } from 'ws'
import { decodeCbor } from '../src/atproto/cbor.ts'
import { generateKeypair } from '../src/atproto/keys.ts'
import { commitSliceCar, Repo } from '../src/atproto/repo/index.ts'
import { TidClock } from '../src/atproto/syntax/index.ts'
import { auditEntry } from '../src/identity/audit.ts'
import { didForGenesis, genesisOperation, signOperation } from '../src/identity/operation.ts'
import { commitEvent } from '../src/pds/events.ts'
import { sequencedFrame } from '../src/relay/frames.ts'
import { freePort } from '../test/e2e/network.ts'

interface HostRepo {
  did: string
  repo: Repo
  log: unknown[]
  next: number
}

export interface BenchHost {
  url: string
  host: string
  /** Frames made so far. */
  made(): number
  /** Make `n` more commits (round-robin over the repos); not yet published. */
  make(n: number): Promise<void>
  /** Publish frames up to `upTo` (all made ones by default). */
  publish(upTo?: number): void
  /** When the frame for (did, rev) was first sent to a subscriber (performance.now()). */
  sentAt: Map<string, number>
  keyOf(seq: number): string
  stop(): Promise<void>
}

const MAX_BUFFERED = 4 * 1024 * 1024

export async function startBenchHost(repoCount: number): Promise<BenchHost> {
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const url = `http://${host}`
  const rotation = await generateKeypair('p256')
  const repos: HostRepo[] = []
  for (let i = 0; i < repoCount; i++) {
    const key = await generateKeypair('p256')
    const op = await signOperation(
      genesisOperation({
        signingKey: key.did,
        rotationKeys: [rotation.did],
        handle: `bench${i}.upstream.test`,
        pdsEndpoint: url,
      }),
      rotation,
    )
    const did = await didForGenesis(op)
    repos.push({ did, repo: await Repo.create(did, key), log: [await auditEntry(did, op)], next: 0 })
  }
  const rkeys = new TidClock()
  const byDid = new Map(repos.map((r) => [r.did, r]))

  const frames: Uint8Array[] = []
  const keys: string[] = []
  let published = 0
  const sentAt = new Map<string, number>()
  const subscribers = new Set<{ ws: WebSocket; pos: number }>()

  const pump = (s: { ws: WebSocket; pos: number }) => {
    while (s.pos < published && s.ws.readyState === WebSocket.OPEN) {
      if (s.ws.bufferedAmount > MAX_BUFFERED) {
        setTimeout(() => pump(s), 5)
        return
      }
      const i = s.pos++
      s.ws.send(frames[i]!)
      if (!sentAt.has(keys[i]!)) sentAt.set(keys[i]!, performance.now())
    }
  }

  const server: Server = createServer((req, res) => {
    const m = /^\/did\/([^/]+)\/log\/audit$/.exec(req.url ?? '')
    const r = m ? byDid.get(decodeURIComponent(m[1]!)) : undefined
    if (!r) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r.log))
  })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', url)
    if (u.pathname !== '/xrpc/com.atproto.sync.subscribeRepos') return socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => {
      // seq n is frames[n - 1]; a cursor asks for everything after it.
      const s = { ws, pos: Math.min(Number(u.searchParams.get('cursor') ?? published) || 0, published) }
      subscribers.add(s)
      ws.on('close', () => subscribers.delete(s))
      pump(s)
    })
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))

  return {
    url,
    host,
    sentAt,
    made: () => frames.length,
    keyOf: (seq) => keys[seq - 1]!,
    async make(n) {
      for (let k = 0; k < n; k++) {
        const r = repos[frames.length % repos.length]!
        const result = await r.repo.applyWrites([
          {
            action: 'create',
            collection: 'agent.memory.note',
            rkey: rkeys.next(),
            record: {
              $type: 'agent.memory.note',
              text: `upstream note ${r.next++}: the quick brown fox jumps over the lazy dog`,
              createdAt: new Date().toISOString(),
            },
          },
        ])
        const body = decodeCbor<Record<string, unknown>>(
          commitEvent(r.did, { ...result, blocks: commitSliceCar(result) }),
        )
        frames.push(sequencedFrame('commit', frames.length + 1, body))
        keys.push(`${r.did} ${result.rev}`)
      }
    },
    publish(upTo = frames.length) {
      published = Math.min(upTo, frames.length)
      for (const s of subscribers) pump(s)
    },
    async stop() {
      for (const s of subscribers) s.ws.terminate()
      wss.close()
      await new Promise((r) => server.close(r))
    },
  }
}
