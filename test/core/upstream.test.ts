/**
 * The relay's check of another host's firehose (src/relay/upstream.ts), driven
 * directly: frames are built here from our own repo core, the verifier's I/O
 * (identity resolution, storage, the resync fetch) is faked, and each step's
 * states are persisted the way the crawler does before `forget()`.
 */
import { describe, expect, it } from 'vitest'
import { carBytes, parseCar } from '../../src/atproto/car.ts'
import { decodeCbor, encodeCborTrusted, fromBytes, toBytes } from '../../src/atproto/cbor.ts'
import { cidToLink, cidToString, parseCid } from '../../src/atproto/cid.ts'
import { generateKeypair, type Keypair } from '../../src/atproto/keys.ts'
import {
  type CommitResult,
  commitSliceBlocks,
  commitSliceCar,
  encodeCommit,
  exportRepoCarBytes,
  Repo,
  type RepoWrite,
} from '../../src/atproto/repo/index.ts'
import { isTid } from '../../src/atproto/syntax/index.ts'
import { encodeFrame, errorFrame, infoFrame } from '../../src/relay/frames.ts'
import type { IngestEvent } from '../../src/relay/sequencer.ts'
import {
  type RepoState,
  type ResolvedIdentity,
  type Step,
  UpstreamVerifier,
} from '../../src/relay/upstream.ts'

const HOST = 'pds.example:1234'
const PDS = 'https://pds.example:1234'
const COLL = 'com.example.thing'

type Body = Record<string, unknown>

let nextDid = 0
/** A fresh did:plc per repo, so tests share nothing. */
function newDid(): string {
  const n = String(nextDid++).padStart(4, '0')
  return `did:plc:upstreamtest${n}aaaaaaaa`
}

/** The verifier with fake I/O, storage in a Map, and a log of resolutions. */
class Harness {
  readonly stored = new Map<string, RepoState>()
  /** Every resolve call, in order. */
  readonly resolves: { did: string; fresh: boolean }[] = []
  /** What the DID resolves to now (a test swaps it to rotate a key or move the PDS). */
  readonly current = new Map<string, ResolvedIdentity>()
  /** Identities as the crawler's cache holds them (a non-fresh resolve answers from here). */
  private readonly cache = new Map<string, ResolvedIdentity>()
  /** The whole-repo CAR the host serves for a resync; null: the fetch fails. */
  readonly repos = new Map<string, Repo>()
  fetches = 0
  verifier: UpstreamVerifier
  private seq = 0

  constructor() {
    this.verifier = this.makeVerifier()
  }

  /** A new verifier over the same storage (a restarted crawler). */
  makeVerifier(): UpstreamVerifier {
    return new UpstreamVerifier({
      host: HOST,
      resolve: async (did, fresh) => {
        this.resolves.push({ did, fresh })
        const cached = this.cache.get(did)
        if (!fresh && cached) return cached
        const id = this.current.get(did)
        if (!id) throw new Error(`no such DID ${did}`)
        this.cache.set(did, { ...id })
        return { ...id }
      },
      load: (did) => {
        const s = this.stored.get(did)
        return s ? { ...s } : null
      },
      fetchRepo: async (did) => {
        this.fetches++
        const repo = this.repos.get(did)
        if (!repo) throw new Error('HTTP 502 from /xrpc/com.atproto.sync.getRepo')
        return exportRepoCarBytes(repo.store, repo.cid, repo.mst)
      },
    })
  }

  /** Host `did` here, signed by `key`. */
  host(did: string, key: Keypair, pds = PDS): void {
    this.current.set(did, { signingKey: key.did, pds })
  }

  /** The DID no longer resolves. */
  unhost(did: string): void {
    this.current.delete(did)
    this.cache.delete(did)
  }

  /** Serve `repo` for getRepo (resync works). */
  serve(repo: Repo): void {
    this.repos.set(repo.did, repo)
  }

  nextSeq(): number {
    return ++this.seq
  }

  /** Check one frame and persist its states, as the crawler does after each batch. */
  async run(frame: Uint8Array, after = -1): Promise<Step> {
    const step = await this.verifier.check(frame, after)
    for (const s of step.states) this.stored.set(s.did, s)
    this.verifier.forget()
    return step
  }

  state(did: string): RepoState | undefined {
    return this.stored.get(did)
  }

  freshResolves(did: string): number {
    return this.resolves.filter((r) => r.did === did && r.fresh).length
  }
}

// ── frames ─────────────────────────────────────────────────────────────────

function frame(t: string, body: Body): Uint8Array {
  return encodeFrame({ op: 1, t }, body)
}

/** A sync 1.1 #commit body for a commit made by our core, as our PDS sends it. */
function commitBody(h: Harness, did: string, r: CommitResult): Body {
  return {
    repo: did,
    commit: cidToLink(r.cid),
    rev: r.rev,
    since: r.since,
    blocks: toBytes(commitSliceCar(r)),
    ops: r.ops.map((op) => ({
      action: op.action,
      path: op.path,
      cid: op.cid ? cidToLink(op.cid) : null,
      ...(op.prev ? { prev: cidToLink(op.prev) } : {}),
    })),
    prevData: cidToLink(r.prevData),
    blobs: [],
    rebase: false,
    tooBig: false,
    time: new Date().toISOString(),
    seq: h.nextSeq(),
  }
}

/** The genesis #commit: no ops, no prevData, every block of the empty repo. */
function genesisBody(h: Harness, repo: Repo): Body {
  return {
    repo: repo.did,
    commit: cidToLink(repo.cid),
    rev: repo.rev,
    since: null,
    blocks: toBytes(exportRepoCarBytes(repo.store, repo.cid, repo.mst)),
    ops: [],
    blobs: [],
    rebase: false,
    tooBig: false,
    time: new Date().toISOString(),
    seq: h.nextSeq(),
  }
}

/** An upstream #sync of the repo's current head: a CAR of the commit block alone. */
function syncBody(h: Harness, repo: Repo): Body {
  const car = carBytes([repo.cid], [{ cid: repo.cid.bytes, bytes: encodeCommit(repo.commit) }])
  return {
    did: repo.did,
    rev: repo.rev,
    blocks: toBytes(car),
    time: new Date().toISOString(),
    seq: h.nextSeq(),
  }
}

function without(body: Body, ...keys: string[]): Body {
  const out = { ...body }
  for (const k of keys) delete out[k]
  return out
}

const decoded = (e: IngestEvent) => decodeCbor<Body>(e.body)
const kinds = (step: Step) => step.events.map((e) => e.kind)

/** The body relayed for a frame: the upstream's, byte for byte, less its seq. */
function expectRelayed(e: IngestEvent, body: Body): void {
  expect(e.body).toEqual(encodeCborTrusted(without(body, 'seq')))
  expect(decoded(e).seq).toBeUndefined()
}

let counter = 0
const write = (action: RepoWrite['action'], rkey: string): RepoWrite =>
  action === 'delete'
    ? { action, collection: COLL, rkey }
    : { action, collection: COLL, rkey, record: { $type: COLL, n: counter++, text: `${action} ${rkey}` } }

/** A hosted repo whose genesis the verifier has seen (stored state: rev and data of the genesis). */
async function start(h: Harness, key?: Keypair): Promise<{ repo: Repo; key: Keypair; did: string }> {
  const k = key ?? (await generateKeypair('p256'))
  const did = newDid()
  h.host(did, k)
  const repo = await Repo.create(did, k)
  const step = await h.run(frame('#commit', genesisBody(h, repo)))
  expect(kinds(step)).toEqual(['commit'])
  return { repo, key: k, did }
}

async function commitStep(h: Harness, repo: Repo, writes: RepoWrite[]) {
  const r = await repo.applyWrites(writes)
  const body = commitBody(h, repo.did, r)
  return { r, body, step: await h.run(frame('#commit', body)) }
}

// ── tests ──────────────────────────────────────────────────────────────────

describe('UpstreamVerifier: commits', () => {
  it('passes a chain of creates, updates, deletes and multi-op commits, one event each', async () => {
    const h = new Harness()
    const { repo, did } = await start(h, await generateKeypair('secp256k1'))
    expect(h.state(did)).toMatchObject({ did, rev: repo.rev, data: cidToString(repo.commit.data) })
    const batches: RepoWrite[][] = [
      [write('create', 'a')],
      [write('create', 'b'), write('create', 'c'), write('create', 'd')],
      [write('update', 'a')],
      [write('delete', 'b')],
      [write('delete', 'c'), write('update', 'd'), write('create', 'e'), write('create', 'f')],
      Array.from({ length: 40 }, (_, i) => write('create', `bulk${i}`)),
      Array.from({ length: 20 }, (_, i) => write(i % 2 ? 'delete' : 'update', `bulk${i * 2}`)),
    ]
    for (const writes of batches) {
      const { r, body, step } = await commitStep(h, repo, writes)
      expect(step.note).toBeUndefined()
      expect(step.seq).toBe(body.seq)
      expect(step.events).toHaveLength(1)
      const [e] = step.events
      expect(e).toMatchObject({ did, rev: r.rev, kind: 'commit' })
      expectRelayed(e!, body)
      expect(step.states).toEqual([
        { did, rev: r.rev, data: cidToString(r.data), status: 'active', eventRev: null },
      ])
      expect(h.state(did)).toMatchObject({ rev: repo.rev, data: cidToString(repo.commit.data) })
    }
  })

  it('skips frames at or before the cursor', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const before = { ...h.state(did)! }
    const r = await repo.applyWrites([write('create', 'x')])
    const body = commitBody(h, did, r)
    const resolves = h.resolves.length
    for (const after of [body.seq as number, (body.seq as number) + 5]) {
      const step = await h.run(frame('#commit', body), after)
      expect(step).toEqual({ seq: null, events: [], states: [] })
    }
    expect(h.resolves.length).toBe(resolves)
    expect(h.state(did)).toEqual(before)
    // One past: processed.
    const step = await h.run(frame('#commit', body), (body.seq as number) - 1)
    expect(kinds(step)).toEqual(['commit'])
    expect(step.seq).toBe(body.seq)
  })

  it('drops a commit signed by another key, after checking for a rotation; the genuine one then passes', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const before = { ...h.state(did)! }
    const other = await generateKeypair('p256')
    const writes = [write('create', 'forged')]
    // Prepared (not applied): the same writes, signed by a key the DID does not name.
    const forged = await repo.prepare(writes, other)
    for (const [k, v] of forged.newBlocks) repo.store.put(k, v)
    const freshBefore = h.freshResolves(did)
    const step = await h.run(frame('#commit', commitBody(h, did, forged)))
    expect(step.events).toEqual([])
    expect(step.states).toEqual([])
    expect(step.note).toMatch(/signature/)
    expect(h.freshResolves(did)).toBe(freshBefore + 1)
    expect(h.resolves.at(-1)).toEqual({ did, fresh: true })
    expect(h.state(did)).toEqual(before)
    // The real commit of the same writes still chains from the stored root.
    const { step: ok } = await commitStep(h, repo, writes)
    expect(kinds(ok)).toEqual(['commit'])
  })

  it('follows a key rotation: the cached key fails, a fresh resolution verifies', async () => {
    const h = new Harness()
    const { repo, did, key: oldKey } = await start(h)
    await commitStep(h, repo, [write('create', 'one')]) // caches the old key
    const newKey = await generateKeypair('secp256k1')
    h.host(did, newKey) // the DID document now names the new key; the cache still has the old one
    const r = await repo.applyWrites([write('create', 'two')], newKey)
    const body = commitBody(h, did, r)
    const freshBefore = h.freshResolves(did)
    const step = await h.run(frame('#commit', body))
    expect(step.note).toBeUndefined()
    expect(kinds(step)).toEqual(['commit'])
    expectRelayed(step.events[0]!, body)
    expect(h.freshResolves(did)).toBe(freshBefore + 1)
    expect(h.state(did)).toMatchObject({ rev: r.rev, data: cidToString(r.data) })
    // Next commit by the new key: the cache has it now, no fresh resolution.
    const three = await repo.applyWrites([write('create', 'three')], newKey)
    const next = await h.run(frame('#commit', commitBody(h, did, three)))
    expect(kinds(next)).toEqual(['commit'])
    expect(h.freshResolves(did)).toBe(freshBefore + 1)
    // The old key no longer counts.
    const stale = await repo.prepare([write('create', 'four')], oldKey)
    for (const [k, v] of stale.newBlocks) repo.store.put(k, v)
    const bad = await h.run(frame('#commit', commitBody(h, did, stale)))
    expect(bad.events).toEqual([])
    expect(bad.note).toMatch(/signature/)
  })

  it('drops commits of a DID whose PDS is another host, or that does not resolve', async () => {
    const h = new Harness()
    const key = await generateKeypair('p256')
    const did = newDid()
    h.host(did, key, 'https://elsewhere.example')
    const repo = await Repo.create(did, key)
    let step = await h.run(frame('#commit', genesisBody(h, repo)))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/elsewhere\.example/)
    // Same hostname, other port: another host.
    h.host(did, key, 'https://pds.example:4321')
    step = await h.run(frame('#commit', genesisBody(h, repo)))
    expect(step.events).toEqual([])
    h.host(did, key, 'not a url')
    step = await h.run(frame('#commit', genesisBody(h, repo)))
    expect(step.events).toEqual([])
    h.unhost(did)
    step = await h.run(frame('#commit', genesisBody(h, repo)))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/cannot resolve/)
    expect(h.state(did)).toBeUndefined()
    // Identity and account events of such a DID are dropped too.
    h.host(did, key, 'https://elsewhere.example')
    for (const [t, body] of [
      ['#identity', { did, time: new Date().toISOString(), seq: h.nextSeq() }],
      ['#account', { did, time: new Date().toISOString(), active: true, seq: h.nextSeq() }],
    ] as const) {
      step = await h.run(frame(t, body))
      expect(step.events).toEqual([])
    }
    expect(h.state(did)).toBeUndefined()
  })

  it('drops a commit with ops but no prevData; passes a genesis commit on its signature alone', async () => {
    const h = new Harness()
    const key = await generateKeypair('p256')
    const did = newDid()
    h.host(did, key)
    const repo = await Repo.create(did, key)
    const genesis = genesisBody(h, repo)
    const r = await repo.applyWrites([write('create', 'a')])
    // First sight of the repo, a commit with ops and no proof base: nothing to check the ops against.
    let step = await h.run(frame('#commit', without(commitBody(h, did, r), 'prevData')))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/prevData/)
    expect(h.state(did)).toBeUndefined()
    // A genesis signed by another key does not pass either.
    const other = await Repo.create(did, await generateKeypair('p256'))
    step = await h.run(frame('#commit', genesisBody(h, other)))
    expect(step.events).toEqual([])
    expect(h.state(did)).toBeUndefined()
    // The genesis: no ops, no prevData, signed by the DID's key.
    step = await h.run(frame('#commit', genesis))
    expect(kinds(step)).toEqual(['commit'])
    expectRelayed(step.events[0]!, genesis)
    const empty = decodeCbor<{ data: { $link: string } }>(
      parseCar(fromBytes(genesis.blocks as never)).blocks.get((genesis.commit as { $link: string }).$link)!,
    )
    expect(h.state(did)).toMatchObject({ rev: genesis.rev, data: empty.data.$link, status: 'active' })
    // And the first commit chains from it.
    step = await h.run(frame('#commit', commitBody(h, did, r)))
    expect(kinds(step)).toEqual(['commit'])
  })

  it("drops a commit whose CAR root is not the commit (consumers verify the root's commit)", async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const prev = await commitStep(h, repo, [write('create', 'a')])
    const stored = { ...h.state(did)! }
    const r = await repo.applyWrites([write('update', 'a'), write('create', 'b')])
    const body = commitBody(h, did, r)
    const slice = [...commitSliceBlocks(r)].map(([k, bytes]) => ({ cid: parseCid(k).bytes, bytes }))
    const prevCommit = { cid: prev.r.cid.bytes, bytes: prev.r.commitBytes }
    // Rooted at the previous (validly signed) commit, whose block it carries too.
    for (const roots of [[prev.r.cid], [r.cid, prev.r.cid], []]) {
      const car = carBytes(roots, [...slice, prevCommit])
      const step = await h.run(frame('#commit', { ...body, blocks: toBytes(car) }))
      expect(step.events).toEqual([])
      expect(step.note).toMatch(/root/)
    }
    expect(h.state(did)).toEqual(stored)
    const step = await h.run(frame('#commit', body))
    expect(kinds(step)).toEqual(['commit'])
  })

  it('drops old and duplicate commits', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const first = await commitStep(h, repo, [write('create', 'a')])
    const second = await commitStep(h, repo, [write('create', 'b')])
    expect(kinds(second.step)).toEqual(['commit'])
    const stored = { ...h.state(did)! }
    for (const old of [second.body, first.body]) {
      const step = await h.run(frame('#commit', { ...old, seq: h.nextSeq() }))
      expect(step.events).toEqual([])
      expect(step.states).toEqual([])
      expect(step.note).toMatch(/not newer/)
    }
    expect(h.state(did)).toEqual(stored)
  })

  it('checks states not yet stored: a batch chains through the verifier, a dropped frame leaves no trace', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const v = h.verifier
    const a = commitBody(h, did, await repo.applyWrites([write('create', 'a')]))
    const b = commitBody(h, did, await repo.applyWrites([write('create', 'b')]))
    // A #sync of b's commit whose rev field lies: dropped, and must not move the repo on.
    const lying = { ...syncBody(h, repo), rev: a.rev }
    const steps = [
      await v.check(frame('#commit', a)),
      await v.check(frame('#sync', lying)),
      await v.check(frame('#commit', b)),
    ]
    expect(steps.map(kinds)).toEqual([['commit'], [], ['commit']])
    expect(steps[1]!.note).toMatch(/rev does not match/)
    expect(h.stored.get(did)?.rev).not.toBe(b.rev) // nothing stored yet
    for (const s of steps) for (const st of s.states) h.stored.set(st.did, st)
    v.forget()
    expect(h.state(did)).toMatchObject({ rev: b.rev, data: cidToString(repo.commit.data) })
  })
})

describe('UpstreamVerifier: desynchronization', () => {
  it('a commit that does not chain marks the repo desynchronized, then resyncs from getRepo', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    await commitStep(h, repo, [write('create', 'a')])
    const stored = h.state(did)!
    await repo.applyWrites([write('create', 'missed')]) // never seen by the relay
    h.serve(repo)
    const r = await repo.applyWrites([write('update', 'a'), write('create', 'c')])
    const step = await h.run(frame('#commit', commitBody(h, did, r)))
    expect(h.fetches).toBe(1)
    expect(kinds(step)).toEqual(['account', 'sync', 'account'])
    const [desync, sync, active] = step.events.map(decoded)
    expect(desync).toMatchObject({ did, active: false, status: 'desynchronized' })
    expect(active).toMatchObject({ did, active: true })
    expect(active!.status).toBeUndefined()
    expect(sync).toMatchObject({ did, rev: repo.rev })
    const car = parseCar(fromBytes(sync!.blocks as never))
    expect(car.roots.map(cidToString)).toEqual([cidToString(repo.cid)])
    expect([...car.blocks.keys()]).toEqual([cidToString(repo.cid)])
    expect(step.events[1]!.rev).toBe(repo.rev)
    // Event revs of the repo's own events increase.
    const [rev0, , rev2] = step.events.map((e) => e.rev)
    expect(isTid(rev0!)).toBe(true)
    expect(rev2! > rev0!).toBe(true)
    expect(h.state(did)).toEqual({
      did,
      rev: repo.rev,
      data: cidToString(repo.commit.data),
      status: 'active',
      eventRev: rev2,
    })
    expect(stored.rev! < repo.rev).toBe(true)
    // And it follows on from the fetched root.
    const { step: next } = await commitStep(h, repo, [write('delete', 'missed')])
    expect(kinds(next)).toEqual(['commit'])
  })

  it('a forged commit that does not chain is dropped: it neither desynchronizes nor fetches', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    await commitStep(h, repo, [write('create', 'a')])
    const before = { ...h.state(did)! }
    h.serve(repo)
    await repo.applyWrites([write('create', 'missed')]) // never seen by the relay
    const forged = await repo.prepare([write('create', 'forged')], await generateKeypair('p256'))
    for (const [k, v] of forged.newBlocks) repo.store.put(k, v)
    const step = await h.run(frame('#commit', commitBody(h, did, forged)))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/signature/)
    expect(h.fetches).toBe(0)
    expect(h.state(did)).toEqual(before)
  })

  it('a tooBig commit, or one without prevData after a known root, also desynchronizes', async () => {
    const h = new Harness()
    for (const broken of [(b: Body) => ({ ...b, tooBig: true }), (b: Body) => without(b, 'prevData')]) {
      const { repo, did } = await start(h)
      const r = await repo.applyWrites([write('create', 'a')])
      const step = await h.run(frame('#commit', broken(commitBody(h, did, r))))
      expect(kinds(step)).toEqual(['account'])
      expect(h.state(did)?.status).toBe('desynchronized')
    }
  })

  it('without a resync, drops commits until an upstream #sync; an upstream #account does not clear the mark', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    await commitStep(h, repo, [write('create', 'a')])
    await repo.applyWrites([write('create', 'missed')])
    const r = await repo.applyWrites([write('create', 'c')])
    let step = await h.run(frame('#commit', commitBody(h, did, r)))
    expect(h.fetches).toBe(1)
    expect(kinds(step)).toEqual(['account'])
    expect(decoded(step.events[0]!)).toMatchObject({ did, active: false, status: 'desynchronized' })
    const desynced = h.state(did)!
    expect(desynced).toMatchObject({ status: 'desynchronized', eventRev: step.events[0]!.rev })
    // Later commits (even ones that would chain) are dropped while desynchronized.
    const { step: dropped } = await commitStep(h, repo, [write('create', 'd')])
    expect(dropped.events).toEqual([])
    expect(dropped.note).toMatch(/desynchronized/)
    expect(h.state(did)).toEqual(desynced)
    // The host says the account is active: relayed, with a newer rev, but still desynchronized.
    const account = { did, time: new Date().toISOString(), active: true, seq: h.nextSeq() }
    step = await h.run(frame('#account', account))
    expect(kinds(step)).toEqual(['account'])
    expectRelayed(step.events[0]!, account)
    expect(step.events[0]!.rev > desynced.eventRev!).toBe(true)
    expect(h.state(did)).toMatchObject({ status: 'desynchronized', eventRev: step.events[0]!.rev })
    const { step: stillDropped } = await commitStep(h, repo, [write('create', 'e')])
    expect(stillDropped.events).toEqual([])
    // An upstream #sync: re-emitted (without seq), then the account is active again.
    const sync = syncBody(h, repo)
    const lastEventRev = h.state(did)!.eventRev!
    step = await h.run(frame('#sync', sync))
    expect(kinds(step)).toEqual(['sync', 'account'])
    expect(step.events[0]).toMatchObject({ did, rev: repo.rev })
    expectRelayed(step.events[0]!, sync)
    expect(decoded(step.events[1]!)).toMatchObject({ did, active: true })
    expect(step.events[1]!.rev > lastEventRev).toBe(true)
    expect(h.state(did)).toMatchObject({
      rev: repo.rev,
      data: cidToString(repo.commit.data),
      status: 'active',
    })
    expect(h.fetches).toBe(1) // dropped commits did not refetch
    const { step: next } = await commitStep(h, repo, [write('create', 'f')])
    expect(kinds(next)).toEqual(['commit'])
  })

  it('drops a #sync that is forged, for another repo, or not newer', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    await commitStep(h, repo, [write('create', 'a')])
    const stored = { ...h.state(did)! }
    // Not newer than what we hold.
    let step = await h.run(frame('#sync', syncBody(h, repo)))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/not newer/)
    // Signed by another key.
    await repo.applyWrites([write('create', 'b')], await generateKeypair('p256'))
    step = await h.run(frame('#sync', syncBody(h, repo)))
    expect(step.events).toEqual([])
    expect(step.note).toMatch(/signature/)
    // Claimed for another DID.
    const { did: otherDid } = await start(h)
    await repo.applyWrites([write('create', 'c')])
    step = await h.run(frame('#sync', { ...syncBody(h, repo), did: otherDid }))
    expect(step.events).toEqual([])
    // Two roots.
    const two = carBytes([repo.cid, repo.cid], [{ cid: repo.cid.bytes, bytes: encodeCommit(repo.commit) }])
    step = await h.run(frame('#sync', { ...syncBody(h, repo), blocks: toBytes(two) }))
    expect(step.events).toEqual([])
    expect(h.state(did)).toEqual(stored)
  })
})

describe('UpstreamVerifier: identity, account and bad frames', () => {
  it('re-emits #identity and #account with revs that increase per repo, across restarts', async () => {
    const h = new Harness()
    const { did } = await start(h)
    const revs: string[] = []
    const frames: [string, Body][] = [
      ['#identity', { did, time: new Date().toISOString(), handle: 'a.example' }],
      ['#account', { did, time: new Date().toISOString(), active: false, status: 'deactivated' }],
      ['#identity', { did, time: new Date().toISOString() }],
      ['#account', { did, time: new Date().toISOString(), active: true }],
    ]
    for (const [t, body] of frames) {
      const b = { ...body, seq: h.nextSeq() }
      const step = await h.run(frame(t, b))
      expect(kinds(step)).toEqual([t.slice(1)])
      expectRelayed(step.events[0]!, b)
      revs.push(step.events[0]!.rev)
      expect(h.state(did)!.eventRev).toBe(step.events[0]!.rev)
    }
    expect(revs.every(isTid)).toBe(true)
    expect([...revs].sort()).toEqual(revs)
    expect(new Set(revs).size).toBe(revs.length)
    // #identity resolves afresh (the document changed); account status follows upstream.
    expect(h.resolves.filter((r) => r.fresh).length).toBeGreaterThanOrEqual(2)
    expect(h.state(did)!.status).toBe('active')
    await h.run(frame('#account', { did, time: '', active: false, status: 'takendown', seq: h.nextSeq() }))
    expect(h.state(did)!.status).toBe('takendown')
    // A restarted verifier (new clock) still goes past the stored eventRev, even one far ahead.
    const future = '7zzzzzzzzzzz2'
    expect(isTid(future)).toBe(true)
    h.stored.set(did, { ...h.state(did)!, eventRev: future })
    h.verifier = h.makeVerifier()
    const step = await h.run(frame('#identity', { did, time: new Date().toISOString(), seq: h.nextSeq() }))
    expect(step.events[0]!.rev > future).toBe(true)
    expect(h.state(did)!.eventRev).toBe(step.events[0]!.rev)
  })

  it('never throws on malformed frames', async () => {
    const h = new Harness()
    const { repo, did } = await start(h)
    const r = await repo.applyWrites([write('create', 'a'), write('create', 'b')])
    const good = commitBody(h, did, r)
    const stored = { ...h.state(did)! }
    const enc = (v: unknown) => encodeCborTrusted(v)
    const cat = (...parts: Uint8Array[]) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
      let i = 0
      for (const p of parts) {
        out.set(p, i)
        i += p.length
      }
      return out
    }
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array()],
      ['garbage', new Uint8Array([0xff, 0x00, 0x13, 0x37, 0x42])],
      ['header only', enc({ op: 1, t: '#commit' })],
      ['trailing bytes', cat(frame('#commit', good), new Uint8Array([1]))],
      ['null header', cat(enc(null), enc(good))],
      ['number header', cat(enc(7), enc(good))],
      ['null body', cat(enc({ op: 1, t: '#commit' }), enc(null))],
      ['array body', cat(enc({ op: 1, t: '#commit' }), enc([1, 2]))],
      ['string body', cat(enc({ op: 1, t: '#account' }), enc('x'))],
      ['null error body', cat(enc({ op: -1 }), enc(null))],
      ['repo not a DID', frame('#commit', { ...good, repo: 'alice' })],
      ['repo a number', frame('#commit', { ...good, repo: 12 })],
      ['rev not a TID', frame('#commit', { ...good, rev: 'yesterday' })],
      ['rev a number', frame('#commit', { ...good, rev: 3 })],
      ['commit a string', frame('#commit', { ...good, commit: (good.commit as { $link: string }).$link })],
      ['blocks a string', frame('#commit', { ...good, blocks: 'CAR' })],
      ['blocks garbage', frame('#commit', { ...good, blocks: toBytes(new Uint8Array([1, 2, 3])) })],
      ['ops a map', frame('#commit', { ...good, ops: {} })],
      ['ops of null', frame('#commit', { ...good, ops: [null] })],
      ['ops of numbers', frame('#commit', { ...good, ops: [1, 2] })],
      ['op of wrong types', frame('#commit', { ...good, ops: [{ action: 5, path: [], cid: 'x' }] })],
      ['ops missing one', frame('#commit', { ...good, ops: (good.ops as Body[]).slice(1) })],
      [
        'ops swapped cids',
        frame('#commit', { ...good, ops: (good.ops as Body[]).map((o) => ({ ...o, action: 'update' })) }),
      ],
      ['rev not the signed rev', frame('#commit', { ...good, rev: '3zzzzzzzzzzz2' })],
      ['commit for another DID', frame('#commit', { ...good, repo: newDid() })],
      ['sync without blocks', frame('#sync', { did, rev: good.rev, seq: 1 })],
      ['sync with garbage', frame('#sync', { did, blocks: toBytes(new Uint8Array([0xa1])) })],
      ['account without active', frame('#account', { did, status: 'x' })],
      ['identity without did', frame('#identity', { handle: 'x' })],
      ['seq a string', frame('#commit', { ...good, seq: 'one', repo: 'x' })],
    ]
    for (const [what, f] of bad) {
      const step = await h.run(f).catch((err: Error) => {
        throw new Error(`${what}: threw ${err.message}`)
      })
      expect(step.events, what).toEqual([])
      expect(step.states, what).toEqual([])
      expect(step.note, what).toBeTruthy()
      expect(step.error, what).toBeUndefined()
    }
    // Corrupted CAR slices: any byte flipped.
    const slice = fromBytes(good.blocks as never)
    for (let i = 0; i < slice.length; i += Math.max(1, Math.floor(slice.length / 150))) {
      const copy = slice.slice()
      copy[i]! ^= 0x5a
      const step = await h.run(frame('#commit', { ...good, blocks: toBytes(copy) })).catch((err: Error) => {
        throw new Error(`byte ${i} flipped: threw ${err.message}`)
      })
      expect(step.events, `byte ${i}`).toEqual([])
    }
    expect(h.state(did)).toEqual(stored)
    expect(h.fetches).toBe(0)
    // Error frames end the stream; info and unknown types are notes.
    expect(await h.run(errorFrame('FutureCursor', 'too far'))).toMatchObject({
      error: 'FutureCursor',
      events: [],
    })
    expect((await h.run(cat(enc({ op: -1 }), enc({})))).error).toBe('error')
    expect(await h.run(infoFrame('OutdatedCursor'))).toMatchObject({
      events: [],
      note: 'info OutdatedCursor',
    })
    expect(await h.run(frame('#labels', { seq: 99 }))).toMatchObject({ seq: 99, events: [] })
    // The good frame still passes afterwards.
    const step = await h.run(frame('#commit', good))
    expect(kinds(step)).toEqual(['commit'])
  })
})
