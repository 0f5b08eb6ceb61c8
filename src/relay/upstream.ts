/**
 * Following another host's firehose: each frame from an upstream
 * `subscribeRepos` is checked before the relay re-emits it in its own
 * sequence. A commit must be signed by the key its DID resolves to, the DID
 * must name this host as its PDS, and the commit's inductive proof must undo
 * to the repo's last known data root (`prevData`). A commit that does not
 * chain marks the repo `desynchronized` until a `#sync` (from upstream, or a
 * resync from the host's `getRepo`) gives a new verified root.
 *
 * This module decides; it does no I/O of its own and stores nothing: the
 * crawler (crawler-do.ts) supplies identity resolution and the resync fetch,
 * and persists the repo states and events it returns in one transaction.
 */
import { carBytes, parseCar } from '../atproto/car.ts'
import { encodeCborTrusted, fromBytes, isBytes, toBytes } from '../atproto/cbor.ts'
import { asCid, cidToString } from '../atproto/cid.ts'
import { AtprotoError } from '../atproto/errors.ts'
import { type ProofOp, verifyCommit, verifyCommitProof } from '../atproto/repo/index.ts'
import { isDid, isTid, TidClock } from '../atproto/syntax/index.ts'
import { decodeFrame } from './frames.ts'
import type { IngestEvent } from './sequencer.ts'

/** What the relay knows of a repo followed from upstream. */
export interface RepoState {
  did: string
  /** Rev and MST root of the newest verified commit (null: not seen yet). */
  rev: string | null
  data: string | null
  /** `active`, an upstream account status, or `desynchronized`. */
  status: string
  /** The newest rev this relay gave an identity or account event of the repo's. */
  eventRev: string | null
}

export interface ResolvedIdentity {
  /** did:key of the atproto signing key. */
  signingKey: string
  /** The PDS endpoint the DID document names. */
  pds: string
}

export interface UpstreamDeps {
  /** The host being followed, as `host[:port]`. */
  host: string
  /** Resolve a DID; `fresh` skips any cache (after a key change). */
  resolve(did: string, fresh: boolean): Promise<ResolvedIdentity>
  /** The repo's current state, from storage. */
  load(did: string): RepoState | null
  /** The repo's whole CAR from the host, for a resync. */
  fetchRepo(did: string): Promise<Uint8Array>
}

/** The result of one frame: events to sequence and repo states to store. */
export interface Step {
  /** The upstream seq (null for frames without one, such as `#info`). */
  seq: number | null
  events: IngestEvent[]
  states: RepoState[]
  /** Why the frame was dropped, or what happened worth a log line. */
  note?: string
  /** An error frame: the host ended the stream. */
  error?: string
}

type Body = Record<string, unknown>
const link = (v: unknown): string | null =>
  v && typeof v === 'object' && typeof (v as { $link?: unknown }).$link === 'string'
    ? (v as { $link: string }).$link
    : null

const isMap = (v: unknown): v is Body => v !== null && typeof v === 'object' && !Array.isArray(v)

class Dropped extends Error {}
const drop = (why: string): never => {
  throw new Dropped(why)
}

export class UpstreamVerifier {
  /** States changed by frames not yet stored; read before storage. */
  private readonly dirty = new Map<string, RepoState>()
  private readonly clock = new TidClock()

  constructor(private readonly deps: UpstreamDeps) {}

  /**
   * The caller stored the states of the steps so far, or gave them up: either
   * way storage is the truth again.
   */
  forget(): void {
    this.dirty.clear()
  }

  /**
   * Check one frame. A frame whose seq is not after `after` (already
   * processed) is skipped. Never throws for bad input: a bad frame is a step
   * with a note.
   */
  async check(frame: Uint8Array, after = -1): Promise<Step> {
    let header: { op: number; t?: string }
    let body: Body
    try {
      ;({ header, body } = decodeFrame<Body>(frame))
    } catch {
      return { seq: null, events: [], states: [], note: 'undecodable frame' }
    }
    // Both halves decode to any CBOR value; reading fields of a null header or
    // body would throw a TypeError, and the crawler would retry the same frame
    // from its cursor forever.
    if (!isMap(header) || !isMap(body)) return { seq: null, events: [], states: [], note: 'malformed frame' }
    if (header.op === -1) return { seq: null, events: [], states: [], error: String(body.error ?? 'error') }
    const seq = typeof body.seq === 'number' && Number.isSafeInteger(body.seq) ? body.seq : null
    if (seq !== null && seq <= after) return { seq: null, events: [], states: [] }
    const step: Step = { seq, events: [], states: [] }
    try {
      switch (header.t) {
        case '#commit':
          await this.commit(body, step)
          break
        case '#sync':
          await this.sync(body, step)
          break
        case '#identity':
          await this.identity(body, step)
          break
        case '#account':
          await this.account(body, step)
          break
        case '#info':
          step.note = `info ${String(body.name)}`
          break
        default:
          step.note = `unknown frame type ${String(header.t)}`
      }
    } catch (err) {
      if (err instanceof Dropped || err instanceof AtprotoError) {
        step.events = []
        step.states = []
        step.note = err.message
      } else throw err
    }
    return step
  }

  private state(did: string): RepoState {
    return (
      this.dirty.get(did) ??
      this.deps.load(did) ?? { did, rev: null, data: null, status: 'active', eventRev: null }
    )
  }

  private put(step: Step, s: RepoState): void {
    this.dirty.set(s.did, s)
    const i = step.states.findIndex((x) => x.did === s.did)
    if (i >= 0) step.states[i] = s
    else step.states.push(s)
  }

  /** The DID's identity, which must name this host as its PDS. */
  private async hosted(did: string, fresh = false): Promise<ResolvedIdentity> {
    let id: ResolvedIdentity
    try {
      id = await this.deps.resolve(did, fresh)
    } catch (err) {
      return drop(`cannot resolve ${did}: ${(err as Error).message}`)
    }
    let pdsHost: string
    try {
      pdsHost = new URL(id.pds).host
    } catch {
      return drop(`${did} names no valid PDS endpoint`)
    }
    if (pdsHost !== this.deps.host) drop(`${did} is hosted at ${pdsHost}, not ${this.deps.host}`)
    return id
  }

  private repoDid(body: Body, field: 'repo' | 'did'): string {
    const did = body[field]
    if (typeof did !== 'string' || !isDid(did)) return drop(`${field} is not a DID`)
    return did
  }

  /** A re-emitted body: the upstream's, without its seq (the relay adds its own). */
  private emit(step: Step, kind: string, did: string, rev: string, body: Body): void {
    const { seq: _seq, ...rest } = body
    step.events.push({ did, rev, kind, body: encodeCborTrusted(rest) })
  }

  /**
   * An identity or account event. Upstream's carry no rev, so each gets one
   * newer than the last this relay gave the repo (stored with its state).
   */
  private ownEvent(step: Step, s: RepoState, kind: 'identity' | 'account', body: Body): RepoState {
    const rev = s.eventRev ? this.clock.nextAfter(s.eventRev) : this.clock.next()
    this.emit(step, kind, s.did, rev, body)
    return { ...s, eventRev: rev }
  }

  private async commit(body: Body, step: Step): Promise<void> {
    const did = this.repoDid(body, 'repo')
    const rev = body.rev
    const commit = link(body.commit)
    if (typeof rev !== 'string' || !isTid(rev)) return drop('rev is not a TID')
    if (!commit) return drop('commit is not a CID link')
    if (!isBytes(body.blocks)) return drop('blocks are not bytes')
    if (!Array.isArray(body.ops)) return drop('ops are not a list')
    // Checked before reading `op.action` etc.: a null op would throw a TypeError (see check()).
    if (!body.ops.every(isMap)) return drop('ops are not all maps')
    const s = this.state(did)
    if (s.status === 'desynchronized') return drop(`${did} is desynchronized; waiting for #sync`)
    if (s.rev !== null && rev <= s.rev) return drop(`${did} rev ${rev} is not newer than ${s.rev}`)
    const id = await this.hosted(did)
    const ops: ProofOp[] = (body.ops as Body[]).map((op) => ({
      action: op.action as ProofOp['action'],
      path: String(op.path),
      cid: link(op.cid),
      prev: link(op.prev),
    }))
    const car = parseCar(fromBytes(body.blocks), { verify: true })
    // Consumers (@atproto/sync's verifyProofs) verify the commit the CAR's root
    // names, not the `commit` field: the two must agree, or what we checked
    // is not what they check.
    if (car.roots.length !== 1 || cidToString(car.roots[0]!) !== commit)
      return drop('the CAR must have one root: the commit')
    const blocks = car.blocks
    const prevData = link(body.prevData)
    if (s.data !== null && (prevData !== s.data || body.tooBig === true)) {
      // Only a commit the repo really signed may break the chain: a forged one is just dropped.
      const bytes = blocks.get(commit)
      if (!bytes) return drop('commit block missing')
      await this.verified(did, id, (key) => verifyCommit(bytes, key, did))
      await this.desynchronize(step, s, `prevData ${prevData} does not chain to ${s.data}`)
      return
    }
    const verified = await this.verified(did, id, async (key) => {
      if (prevData === null) {
        // Only a genesis commit (no ops) may come without a proof.
        if (ops.length > 0) drop('a commit with ops must carry prevData')
        const bytes = blocks.get(commit)
        if (!bytes) return drop('commit block missing')
        return verifyCommit(bytes, key, did)
      }
      return (await verifyCommitProof({ blocks, commit, ops, prevData, did, didKey: key })).commit
    })
    if (verified.rev !== rev) drop('rev does not match the signed commit')
    this.emit(step, 'commit', did, rev, body)
    this.put(step, { ...s, rev, data: cidToString(verified.data), status: 'active' })
  }

  /** Verify with the cached key; on a bad signature, once more with a fresh resolution (a rotation). */
  private async verified<T>(
    did: string,
    id: ResolvedIdentity,
    check: (key: string) => Promise<T>,
  ): Promise<T> {
    try {
      return await check(id.signingKey)
    } catch (err) {
      if (!(err instanceof AtprotoError) || err.code !== 'InvalidSignature') throw err
      const fresh = await this.hosted(did, true)
      if (fresh.signingKey === id.signingKey) throw err
      return check(fresh.signingKey)
    }
  }

  /** Mark the repo desynchronized (an `#account` event says so), then try a resync from the host. */
  private async desynchronize(step: Step, s: RepoState, why: string): Promise<void> {
    let next = this.ownEvent(step, { ...s, status: 'desynchronized' }, 'account', {
      did: s.did,
      time: new Date().toISOString(),
      active: false,
      status: 'desynchronized',
    })
    this.put(step, next)
    step.note = `${s.did} desynchronized: ${why}`
    try {
      const car = await this.deps.fetchRepo(s.did)
      next = await this.resync(step, next, car)
      step.note += '; resynchronized from getRepo'
    } catch (err) {
      step.note += `; resync failed: ${(err as Error).message}`
    }
  }

  /**
   * A new verified root for a repo: from an upstream `#sync`, or a whole repo
   * fetched for a resync. Emits `#sync` (and `#account` active, if it was not).
   */
  private async resync(
    step: Step,
    s: RepoState,
    car: Uint8Array,
    time?: unknown,
    claimedRev?: unknown,
  ): Promise<RepoState> {
    const parsed = parseCar(car, { verify: true })
    const root = parsed.roots[0]
    if (parsed.roots.length !== 1 || !root) return drop('the CAR must have one root: the commit')
    const rootCid = cidToString(root)
    const bytes = parsed.blocks.get(rootCid)
    if (!bytes) return drop('commit block missing')
    const id = await this.hosted(s.did)
    const commit = await this.verified(s.did, id, (key) => verifyCommit(bytes, key, s.did))
    if (s.rev !== null && commit.rev <= s.rev)
      return drop(`sync rev ${commit.rev} is not newer than ${s.rev}`)
    // Checked before `put`: a drop after it would leave the new state in `dirty`
    // (check() clears only the step), so later frames of the batch would be
    // checked against a root that is never stored.
    if (typeof claimedRev === 'string' && claimedRev !== commit.rev)
      return drop('rev does not match the signed commit')
    const blocks = carBytes([asCid(rootCid)], [{ cid: asCid(rootCid).bytes, bytes }])
    this.emit(step, 'sync', s.did, commit.rev, {
      did: s.did,
      rev: commit.rev,
      blocks: toBytes(blocks),
      time: typeof time === 'string' ? time : new Date().toISOString(),
    })
    let next: RepoState = { ...s, rev: commit.rev, data: cidToString(commit.data) }
    if (s.status === 'desynchronized') {
      next = this.ownEvent(step, { ...next, status: 'active' }, 'account', {
        did: s.did,
        time: new Date().toISOString(),
        active: true,
      })
    }
    this.put(step, next)
    return next
  }

  private async sync(body: Body, step: Step): Promise<void> {
    const did = this.repoDid(body, 'did')
    if (!isBytes(body.blocks)) return drop('blocks are not bytes')
    const s = this.state(did)
    await this.resync(step, s, fromBytes(body.blocks), body.time, body.rev)
  }

  private async identity(body: Body, step: Step): Promise<void> {
    const did = this.repoDid(body, 'did')
    await this.hosted(did, true)
    this.put(step, this.ownEvent(step, this.state(did), 'identity', body))
  }

  private async account(body: Body, step: Step): Promise<void> {
    const did = this.repoDid(body, 'did')
    if (typeof body.active !== 'boolean') return drop('active is not a boolean')
    await this.hosted(did)
    const s = this.ownEvent(step, this.state(did), 'account', body)
    // Our own desynchronized mark outlives the host's account changes; only a sync clears it.
    const status =
      s.status === 'desynchronized' ? s.status : body.active ? 'active' : String(body.status ?? 'deactivated')
    this.put(step, { ...s, status })
  }
}
