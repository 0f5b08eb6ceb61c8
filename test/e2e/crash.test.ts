/**
 * Crash safety of the outbox → relay → firehose path against a real
 * `wrangler dev` network: while 3 agents write, the whole network is
 * SIGKILLed, then restarted on the same state and secrets. A subscriber that
 * resumes from the last seq it saw must get every acknowledged write's commit
 * exactly once across both connections, with seqs strictly increasing and
 * gap-free.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { decodeFrame } from '../../src/relay/frames.ts'
import { type Network, startNetwork } from './network.ts'

const AGENTS = 3
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Seen {
  seq: number
  t: string
  repo?: string
  rev?: string
}

const stateDir = mkdtempSync(join(tmpdir(), 'murmur-crash-'))
const nets: Network[] = []
const sockets: WebSocket[] = []
afterAll(async () => {
  for (const ws of sockets) ws.terminate()
  for (const n of nets) await n.stop('SIGKILL')
  rmSync(stateDir, { recursive: true, force: true })
})

function subscribe(net: Network, cursor: number, into: Seen[]): Promise<WebSocket> {
  const ws = new WebSocket(
    `${net.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=${cursor}`,
  )
  sockets.push(ws)
  ws.on('message', (data: Buffer) => {
    const { header, body } = decodeFrame<Record<string, unknown>>(new Uint8Array(data))
    if (header.op !== 1) throw new Error(`error frame: ${JSON.stringify(body)}`)
    into.push({ seq: body.seq as number, t: header.t, repo: body.repo as string, rev: body.rev as string })
  })
  ws.on('error', () => {}) // the first connection dies with the network
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
}

async function post(net: Network, method: string, body: unknown, token: string) {
  const res = await fetch(`${net.url}/xrpc/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const json = (await res.json()) as Record<string, any>
  if (res.status !== 200) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

describe('SIGKILL mid-writes, restart on the same state', () => {
  it('delivers every acknowledged commit exactly once, gap-free, across the crash', async () => {
    const started = Date.now()
    let net = await startNetwork({ stateDir })
    nets.push(net)
    const agents: { did: string; accessJwt: string }[] = []
    for (let i = 0; i < AGENTS; i++) {
      const a = await post(
        net,
        'com.atproto.server.createAccount',
        { handle: `crash${i}`, password: `crash-pw-${i}` },
        net.adminToken,
      )
      agents.push({ did: a.did, accessJwt: a.accessJwt })
    }
    const acked = new Map<string, string[]>(agents.map((a) => [a.did, []]))
    const first: Seen[] = []
    await subscribe(net, 0, first)

    /** Sequential createRecord loops, one per agent; a failed write ends that loop (its fate is unknown). */
    const writeLoops = (target: Network, until: () => boolean) =>
      Promise.all(
        agents.map(async (a, i) => {
          for (let w = 0; !until(); w++) {
            const record = {
              $type: 'agent.memory.note',
              text: `a${i} w${w}`,
              createdAt: new Date().toISOString(),
            }
            try {
              const res = await post(
                target,
                'com.atproto.repo.createRecord',
                { repo: a.did, collection: 'agent.memory.note', record },
                a.accessJwt,
              )
              acked.get(a.did)!.push(res.commit.rev as string)
            } catch {
              return
            }
          }
        }),
      )

    // Kill the network once the writers are well under way.
    let killed = false
    const writing = writeLoops(net, () => killed)
    const total = () => [...acked.values()].reduce((n, revs) => n + revs.length, 0)
    const warmup = Date.now() + 15_000
    while (total() < 30 && Date.now() < warmup) await sleep(10)
    expect(total()).toBeGreaterThanOrEqual(30)
    await net.stop('SIGKILL')
    nets.pop()
    killed = true
    await writing
    const beforeCrash = total()

    // Restart on the same state and secrets; resume from the last seq seen.
    net = await startNetwork({ stateDir, secrets: net.secrets })
    nets.push(net)
    const lastSeen = first.at(-1)?.seq ?? 0
    const second: Seen[] = []
    await subscribe(net, lastSeen, second)
    let after = 0
    await writeLoops(net, () => after++ >= AGENTS * 5)
    expect(total()).toBeGreaterThan(beforeCrash)

    // Wait until every acknowledged write's commit has arrived, then a little longer for duplicates.
    const all = () => [...first, ...second]
    const arrived = () => {
      const got = new Set(all().map((s) => `${s.repo} ${s.rev}`))
      return [...acked].every(([did, revs]) => revs.every((rev) => got.has(`${did} ${rev}`)))
    }
    const deadline = Date.now() + 20_000
    while (!arrived() && Date.now() < deadline) await sleep(50)
    await sleep(500)

    const seen = all()
    const seqs = seen.map((s) => s.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    const commits = seen.filter((s) => s.t === '#commit')
    for (const [did, revs] of acked) {
      const mine = commits.filter((c) => c.repo === did).map((c) => c.rev!)
      expect(new Set(mine).size).toBe(mine.length) // no commit twice
      for (const rev of revs) expect(mine.filter((r) => r === rev)).toHaveLength(1)
      // Per repo, revs arrive in order.
      expect([...mine].sort()).toEqual(mine)
    }
    expect(Date.now() - started).toBeLessThan(60_000)
  }, 90_000)
})
