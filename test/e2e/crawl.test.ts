/**
 * Federation's seam: network B follows network A's firehose
 * (`com.atproto.sync.requestCrawl`), verifies each commit against A's DIDs
 * and the repo's last known root, and re-emits it in B's own sequence.
 *
 * A is reached through a small loopback proxy (A's public URL, so A's DIDs
 * name it as their PDS). The proxy passes HTTP and the firehose through, and
 * can forge a commit's signature in transit, as a hostile or broken link
 * would: B must drop that commit, mark the repo desynchronized when the next
 * commit does not chain, resync from getRepo, and carry on.
 */
import { createServer, type Server } from 'node:http'
import { Firehose } from '@atproto/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { carBytes, parseCar } from '../../src/atproto/car.ts'
import { fromBytes, toBytes } from '../../src/atproto/cbor.ts'
import { cidForCbor, cidToLink, cidToString, parseCid } from '../../src/atproto/cid.ts'
import { decodeCommit, encodeCommit } from '../../src/atproto/repo/index.ts'
import { decodeFrame, encodeFrame, type FrameHeader } from '../../src/relay/frames.ts'
import { createAccount, freePort, type Network, startNetwork, xrpcPost } from './network.ts'

interface Frame {
  header: { op: number; t?: string }
  body: Record<string, any>
}

/** A's front door: HTTP and WebSocket pass-through, with a forger for the next commit of chosen repos. */
class FrontDoor {
  readonly forgeNext = new Set<string>()
  private readonly sockets = new Set<WebSocket>()
  constructor(
    readonly server: Server,
    readonly wss: WebSocketServer,
  ) {}

  static async start(port: number, target: string): Promise<FrontDoor> {
    const server = createServer(async (req, res) => {
      try {
        const r = await fetch(`${target}${req.url}`)
        res.writeHead(r.status, {
          'content-type': r.headers.get('content-type') ?? 'application/octet-stream',
        })
        res.end(Buffer.from(await r.arrayBuffer()))
      } catch {
        res.writeHead(502).end()
      }
    })
    const wss = new WebSocketServer({ noServer: true })
    const proxy = new FrontDoor(server, wss)
    server.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (client) =>
        proxy.pipe(client, `${target.replace('http', 'ws')}${req.url}`),
      ),
    )
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    return proxy
  }

  private pipe(client: WebSocket, url: string): void {
    const up = new WebSocket(url)
    this.sockets.add(up).add(client)
    up.on('message', (data: Buffer) => client.send(this.transform(new Uint8Array(data))))
    up.on('close', () => client.close())
    up.on('error', () => client.terminate())
    client.on('close', () => up.terminate())
  }

  /** Flip a byte of the signature and re-address the commit block, so the CAR still hashes but the signature fails. */
  private transform(frame: Uint8Array): Uint8Array {
    const { header, body } = decodeFrame<Record<string, any>>(frame)
    if ((header as { t?: string }).t !== '#commit' || !this.forgeNext.delete(body.repo)) return frame
    const car = parseCar(fromBytes(body.blocks))
    const commit = decodeCommit(car.blocks.get(body.commit.$link)!)
    const sig = new Uint8Array(commit.sig)
    sig[10]! ^= 0xff
    const bytes = encodeCommit({ ...commit, sig })
    const cid = cidForCbor(bytes)
    const rest = [...car.blocks].filter(([k]) => k !== body.commit.$link)
    const forged = carBytes(
      [cid],
      [{ cid: cid.bytes, bytes }, ...rest.map(([k, v]) => ({ cid: parseCid(k).bytes, bytes: v }))],
    )
    return encodeFrame(header as FrameHeader, { ...body, commit: cidToLink(cid), blocks: toBytes(forged) })
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate()
    this.wss.close()
    await new Promise((r) => this.server.close(r))
  }
}

let a: Network
let b: Network
let proxy: FrontDoor
let aHost: string

beforeAll(async () => {
  const port = await freePort()
  aHost = `127.0.0.1:${port}`
  ;[a, b] = await Promise.all([
    startNetwork({ env: { MURMUR_PUBLIC_URL: `http://${aHost}` } }),
    startNetwork(),
  ])
  proxy = await FrontDoor.start(port, a.url)
})
afterAll(async () => {
  await proxy?.close()
  await Promise.all([a?.stop(), b?.stop()])
})

/** B's firehose, raw: every frame in arrival order. */
async function subscribeB(cursor: number): Promise<{ frames: Frame[]; ws: WebSocket }> {
  const ws = new WebSocket(
    `${b.url.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=${cursor}`,
  )
  const frames: Frame[] = []
  ws.on('message', (d: Buffer) => frames.push(decodeFrame(new Uint8Array(d)) as Frame))
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return { frames, ws }
}

async function until(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function note(agent: { did: string; accessJwt: string }, text: string): Promise<string> {
  const record = { $type: 'agent.memory.note', text, createdAt: new Date().toISOString() }
  const res = await xrpcPost(
    a.url,
    'com.atproto.repo.createRecord',
    { repo: agent.did, collection: 'agent.memory.note', record },
    agent.accessJwt,
  )
  return res.commit.rev as string
}

const commitsOf = (frames: Frame[], did: string) =>
  frames
    .filter((f) => f.header.t === '#commit' && f.body.repo === did && f.body.ops.length > 0)
    .map((f) => f.body.rev)

describe('requestCrawl: B follows A', () => {
  const agents: { did: string; accessJwt: string }[] = []
  const revs = new Map<string, string[]>()

  it('refuses callers without the admin token, bad hostnames and itself', async () => {
    const call = (body: unknown, token?: string) =>
      fetch(`${b.url}/xrpc/com.atproto.sync.requestCrawl`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      })
    expect((await call({ hostname: aHost })).status).toBe(401)
    for (const hostname of ['', 'http://x', 'a b', 42]) {
      const res = await call({ hostname }, b.adminToken)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: 'InvalidRequest' })
    }
    expect((await call({ hostname: new URL(b.url).host }, b.adminToken)).status).toBe(400)
    const res = await fetch(`${b.url}/xrpc/com.atproto.sync.getHostStatus?hostname=${aHost}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'HostNotFound' })
  })

  it("re-emits A's history and live commits in B's own gap-free sequence", async () => {
    for (let i = 0; i < 2; i++) {
      const acct = await createAccount(a, `crawled${i}`)
      agents.push(acct)
      revs.set(acct.did, [])
    }
    for (const ag of agents) for (let w = 0; w < 5; w++) revs.get(ag.did)!.push(await note(ag, `before ${w}`))

    const sub = await subscribeB(0)
    await xrpcPost(b.url, 'com.atproto.sync.requestCrawl', { hostname: aHost }, b.adminToken)
    for (const ag of agents) for (let w = 0; w < 5; w++) revs.get(ag.did)!.push(await note(ag, `after ${w}`))

    // Per agent: #identity, #account, genesis #commit, then 10 commits.
    const expected = agents.length * 13
    await until(() => sub.frames.length >= expected, `${expected} events on B`)
    await new Promise((r) => setTimeout(r, 300))
    expect(sub.frames.map((f) => f.body.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1))
    for (const ag of agents) expect(commitsOf(sub.frames, ag.did)).toEqual(revs.get(ag.did))
    sub.ws.terminate()

    const status = await (
      await fetch(`${b.url}/xrpc/com.atproto.sync.getHostStatus?hostname=${aHost}`)
    ).json()
    expect(status).toMatchObject({ hostname: aHost, accountCount: 2, desynchronized: 0, status: 'active' })
  })

  it("@atproto/sync's Firehose verifies every commit B re-emits, with keys from A's directory", async () => {
    const idResolver = {
      did: {
        resolve: async (did: string) => (await fetch(`${a.url}/did/${did}`)).json(),
        resolveAtprotoKey: async (did: string) => {
          const doc: any = await (await fetch(`${a.url}/did/${did}`)).json()
          return `did:key:${doc.verificationMethod[0].publicKeyMultibase}`
        },
      },
    }
    const creates: string[] = []
    const errors: Error[] = []
    const firehose = new Firehose({
      service: b.url.replace('http', 'ws'),
      idResolver: idResolver as any,
      unauthenticatedHandles: true,
      getCursor: () => 0,
      handleEvent: (evt) => {
        if (evt.event === 'create') creates.push(`${evt.did} ${evt.rev}`)
      },
      onError: (err) => errors.push(err),
    })
    const running = firehose.start()
    try {
      await until(() => creates.length >= 20, '20 verified creates')
    } finally {
      await firehose.destroy()
      await running
    }
    expect(errors).toEqual([])
    expect(creates.sort()).toEqual([...revs].flatMap(([did, rs]) => rs.map((r) => `${did} ${r}`)).sort())
  })

  it('drops a forged commit, marks the repo desynchronized, resyncs from getRepo and carries on', async () => {
    const [victim, other] = agents as [{ did: string; accessJwt: string }, { did: string; accessJwt: string }]
    const sub = await subscribeB(0)
    await until(() => sub.frames.length >= 26, 'the history')
    const start = sub.frames.length

    proxy.forgeNext.add(victim.did)
    const forged = await note(victim, 'forged in transit')
    const broken = await note(victim, 'does not chain on B')
    await until(() => sub.frames.slice(start).some((f) => f.header.t === '#sync'), 'the resync')
    const after = await note(victim, 'after the resync')
    const otherRev = await note(other, 'unaffected')
    await until(() => commitsOf(sub.frames, other.did).includes(otherRev), "the other agent's commit")
    await until(() => commitsOf(sub.frames, victim.did).includes(after), 'the commit after the resync')

    const fresh = sub.frames
      .slice(start)
      .filter((f) => f.body.did === victim.did || f.body.repo === victim.did)
    expect(fresh.map((f) => [f.header.t, f.body.rev ?? f.body.status ?? f.body.active])).toEqual([
      ['#account', 'desynchronized'],
      ['#sync', broken],
      ['#account', true],
      ['#commit', after],
    ])
    const sync = fresh[1]!.body
    const car = parseCar(fromBytes(sync.blocks))
    expect(car.roots.map(cidToString)).toHaveLength(1)
    expect(decodeCommit(car.blocks.get(cidToString(car.roots[0]!))!).rev).toBe(broken)
    expect(commitsOf(sub.frames, victim.did)).not.toContain(forged)
    const seqs = sub.frames.map((f) => f.body.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    sub.ws.terminate()

    const status = await (
      await fetch(`${b.url}/xrpc/com.atproto.sync.getHostStatus?hostname=${aHost}`)
    ).json()
    expect(status).toMatchObject({ desynchronized: 0 })
  })
})
