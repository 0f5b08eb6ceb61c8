/**
 * Concurrent writes against a real `wrangler dev` network: 10 agents × 100
 * createRecord calls, all 1,000 in flight at once. Every acknowledged write
 * must be in the agent's exported CAR (verified by @atproto/repo against the
 * key in the agent's DID document), no request may fail with a 5xx, and each
 * agent's commit revs must be distinct and ordered like its commits. The one
 * 503 that is sent again is wrangler dev's own proxy's (see DEV_PROXY_DROPPED).
 */
import { cborToLexRecord, readCarWithRoot, verifyRepoCar } from '@atproto/repo'
import { Agent, fetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Network, startNetwork } from './network.ts'

const AGENTS = 10
const WRITES_PER_AGENT = 100

let net: Network
beforeAll(async () => {
  net = await startNetwork()
})
afterAll(() => net?.stop())

interface Account {
  did: string
  accessJwt: string
}

interface Ack {
  uri: string
  cid: string
  rev: string
  commitCid: string
  text: string
}

async function createAccount(handle: string): Promise<Account> {
  const res = await fetch(`${net.url}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { authorization: `Bearer ${net.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password: `${handle}-password-1` }),
  })
  const body = (await res.json()) as Record<string, string>
  expect(res.status, JSON.stringify(body)).toBe(200)
  return { did: body.did!, accessJwt: body.accessJwt! }
}

async function signingKey(did: string): Promise<string> {
  const doc = (await (await fetch(`${net.url}/did/${did}`)).json()) as {
    verificationMethod: Array<{ id: string; publicKeyMultibase: string }>
  }
  const vm = doc.verificationMethod.find((v) => v.id.endsWith('#atproto'))!
  return `did:key:${vm.publicKeyMultibase}`
}

/**
 * wrangler dev's own proxy (its ProxyWorker, in front of our Worker) answers
 * 503 with this body when its hop to the Worker drops a connection, e.g. a
 * pooled keep-alive connection workerd has just closed (cloudflare/workers-sdk
 * #6517, #14641; later wranglers retry it themselves, workers-sdk#15252). It
 * happens under bursts even for requests that never reach a Durable Object, and
 * never comes from Murmur, so such a request is sent again, as the body asks.
 */
const DEV_PROXY_DROPPED = 'Your worker restarted mid-request.'
const MAX_ATTEMPTS = 5

/**
 * At most 64 sockets: wrangler dev's proxy resets connections when a thousand
 * open at once. All 1,000 requests are still in flight together; they queue
 * on these keep-alive connections and reach each agent concurrently.
 */
const pool = new Agent({ connections: 64 })

interface Outcome {
  status: number
  attempts: number
  /** Attempts answered by wrangler's proxy 503 (see DEV_PROXY_DROPPED). */
  proxyDrops: number
  ack?: Ack
  error?: string
}

/** One createRecord; returns the final HTTP status and, when acknowledged, what the server committed. */
async function create(account: Account, text: string): Promise<Outcome> {
  let proxyDrops = 0
  for (let attempt = 1; ; attempt++) {
    let status = 0
    let raw = ''
    try {
      const res = await fetch(`${net.url}/xrpc/com.atproto.repo.createRecord`, {
        dispatcher: pool,
        method: 'POST',
        headers: { authorization: `Bearer ${account.accessJwt}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          repo: account.did,
          collection: 'agent.memory.note',
          record: { $type: 'agent.memory.note', text, createdAt: new Date().toISOString() },
        }),
      })
      status = res.status
      raw = await res.text()
    } catch (err) {
      // A dropped client connection is a failed request: reported, never retried.
      return { status: 0, attempts: attempt, proxyDrops, error: String((err as Error)?.cause ?? err) }
    }
    if (status === 503 && raw.startsWith(DEV_PROXY_DROPPED)) {
      proxyDrops++
      if (attempt < MAX_ATTEMPTS) continue
    }
    if (status !== 200) return { status, attempts: attempt, proxyDrops, error: raw.slice(0, 300) }
    const body = JSON.parse(raw) as { uri?: string; cid?: string; commit?: { cid?: string; rev?: string } }
    if (!body.uri || !body.cid || !body.commit?.rev || !body.commit.cid)
      return { status, attempts: attempt, proxyDrops, error: `acknowledged without uri/cid/commit: ${raw}` }
    const ack = { uri: body.uri, cid: body.cid, rev: body.commit.rev, commitCid: body.commit.cid, text }
    return { status, attempts: attempt, proxyDrops, ack }
  }
}

describe('concurrent writes', () => {
  it(`keeps every acknowledged write of ${AGENTS} agents × ${WRITES_PER_AGENT} concurrent creates`, async () => {
    const accounts = await Promise.all(
      Array.from({ length: AGENTS }, (_, i) => createAccount(`concurrent${i}`)),
    )

    // All 1,000 requests in flight together, the agents' interleaved.
    const started = performance.now()
    const outcomes = await Promise.all(
      Array.from({ length: AGENTS * WRITES_PER_AGENT }, (_, i) => {
        const a = i % AGENTS
        return create(accounts[a]!, `agent ${a} note ${Math.floor(i / AGENTS)}`).then((o) => ({ a, ...o }))
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const proxyDrops = outcomes.reduce((n, o) => n + o.proxyDrops, 0)
    console.log(
      `${outcomes.length} concurrent creates in ${seconds.toFixed(1)} s; ` +
        `${proxyDrops} attempts dropped by wrangler dev's proxy and sent again`,
    )

    // No 5xx from Murmur, no dropped connection, nothing refused.
    const failures = outcomes.filter((o) => o.status !== 200 || !o.ack)
    expect(failures.map((o) => `${o.status} after ${o.attempts} attempts: ${o.error}`)).toEqual([])

    let unacknowledged = 0
    for (const [a, account] of accounts.entries()) {
      const mine = outcomes.filter((o) => o.a === a)
      const acks = mine.map((o) => o.ack!)
      expect(acks).toHaveLength(WRITES_PER_AGENT)
      for (const ack of acks) expect(ack.uri.startsWith(`at://${account.did}/agent.memory.note/`)).toBe(true)

      // Revs: one per commit, all distinct (and so are the commits).
      const revs = acks.map((k) => k.rev)
      expect(new Set(revs).size).toBe(acks.length)
      expect(new Set(acks.map((k) => k.commitCid)).size).toBe(acks.length)

      // The rkeys are TIDs minted inside the agent's serialised write path, so
      // they record the order the commits happened in: sorting by rev must give
      // that same order.
      const rkey = (k: Ack) => k.uri.split('/').at(-1)!
      const byRev = [...acks].sort((x, y) => (x.rev < y.rev ? -1 : 1)).map(rkey)
      const byRkey = [...acks].sort((x, y) => (rkey(x) < rkey(y) ? -1 : 1)).map(rkey)
      expect(byRev).toEqual(byRkey)

      // Every acknowledged write is in the exported, signature-checked repo.
      const res = await fetch(`${net.url}/xrpc/com.atproto.sync.getRepo?did=${account.did}`)
      expect(res.status).toBe(200)
      const car = new Uint8Array(await res.arrayBuffer())
      const repo = await verifyRepoCar(car, account.did, await signingKey(account.did))
      const { blocks } = await readCarWithRoot(car)
      const stored = new Map(
        repo.creates.map((c) => [
          `at://${account.did}/${c.collection}/${c.rkey}`,
          { cid: c.cid.toString(), text: cborToLexRecord(blocks.get(c.cid)!).text as string | undefined },
        ]),
      )
      for (const ack of acks) {
        const got = stored.get(ack.uri)
        expect(got, ack.uri).toBeDefined()
        expect(got).toEqual({ cid: ack.cid, text: ack.text })
      }
      // Nothing else, except (at most) an attempt the dev proxy dropped after
      // it had reached the agent: never more records for a note than attempts.
      const attempts = new Map(mine.map((o) => [o.ack!.text, o.attempts]))
      const perText = new Map<string | undefined, number>()
      for (const { text } of stored.values()) perText.set(text, (perText.get(text) ?? 0) + 1)
      for (const [text, n] of perText) {
        expect(attempts.has(text!), `unexpected record ${text}`).toBe(true)
        expect(n).toBeLessThanOrEqual(attempts.get(text!)!)
      }

      // The head is the last commit: with nothing unacknowledged committed, it
      // is the acknowledged commit with the greatest rev.
      const maxRev = [...revs].sort().at(-1)!
      const last = acks.find((k) => k.rev === maxRev)!
      const latest = (await (
        await fetch(`${net.url}/xrpc/com.atproto.sync.getLatestCommit?did=${account.did}`)
      ).json()) as { cid: string; rev: string }
      expect(latest.rev).toBe(repo.commit.rev)
      if (stored.size === acks.length) expect(latest).toEqual({ cid: last.commitCid, rev: maxRev })
      else expect(latest.rev >= maxRev).toBe(true)
      unacknowledged += stored.size - acks.length
    }
    if (unacknowledged > 0) console.log(`${unacknowledged} dropped attempts had been committed`)
  })
})
