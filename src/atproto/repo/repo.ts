/**
 * A repository writer: holds the current signed commit and MST in memory over
 * a synchronous block store, and turns batches of record writes into new
 * signed commits (sync 1.1 style: ops carry `prev`, the commit result carries
 * `prevData`).
 */
import { decodeCbor, encodeCbor } from '../cbor.ts'
import type { Cid } from '../cid.ts'
import { cidForCbor, cidToString } from '../cid.ts'
import { fail } from '../errors.ts'
import type { Keypair } from '../keys.ts'
import { bytesEqual, getBlock, MemoryBlockStore, type WritableBlockStore } from '../mst/blocks.ts'
import { diffMst } from '../mst/diff.ts'
import { Mst } from '../mst/mst.ts'
import { flushPromotions } from '../mst/node.ts'
import { isNsid, isRecordKey, TidClock } from '../syntax/index.ts'
import {
  decodeCommit,
  encodeCommit,
  encodeUnsignedCommit,
  prepareCommit,
  type SignedCommit,
  signCommit,
  type UnsignedCommit,
} from './commit.ts'
import { type CommitResult, formatDataKey, type RepoOp, type RepoOptions, type RepoWrite } from './types.ts'

function ignore(): void {}

function encodeRecord(record: unknown, path: string): Uint8Array {
  if (record === null || typeof record !== 'object' || Array.isArray(record) || record instanceof Uint8Array)
    fail('InvalidRecord', `record at ${path} must be an object`)
  return encodeCbor(record)
}

export class Repo {
  readonly did: string
  readonly store: WritableBlockStore
  private keypair: Keypair | null
  private clock: TidClock
  private _commit: SignedCommit
  private _cid: Cid
  private _mst: Mst
  private queue: Promise<unknown> = Promise.resolve()
  private busy = false
  /** The last rev this repo's clock issued (see build). */
  private lastClockRev: string | null = null

  private constructor(
    store: WritableBlockStore,
    commit: SignedCommit,
    cid: Cid,
    mst: Mst,
    keypair: Keypair | null,
    clock: TidClock,
  ) {
    this.did = commit.did
    this.store = store
    this._commit = commit
    this._cid = cid
    this._mst = mst
    this.keypair = keypair
    this.clock = clock
  }

  /** A new, empty repo: one signed commit over an empty tree. */
  static async create(did: string, keypair: Keypair, opts: RepoOptions = {}): Promise<Repo> {
    const store = opts.store ?? new MemoryBlockStore()
    const clock = opts.clock ?? new TidClock()
    const mst = Mst.create(store)
    const { root, blocks } = mst.finalize()
    const commit = await signCommit({ did, version: 3, data: root, rev: clock.next(), prev: null }, keypair)
    const bytes = encodeCommit(commit)
    const cid = cidForCbor(bytes)
    for (const b of blocks) store.put(b.cidToString, b.bytes)
    store.put(cidToString(cid), bytes)
    const repo = new Repo(store, commit, cid, mst, keypair, clock)
    repo.lastClockRev = commit.rev
    return repo
  }

  /** Open a repo from its store and head commit. Without a keypair it is read-only. */
  static load(store: WritableBlockStore, commitCid: Cid, opts: Omit<RepoOptions, 'store'> = {}): Repo {
    const commit = decodeCommit(getBlock(store, cidToString(commitCid)))
    const mst = Mst.load(store, commit.data)
    return new Repo(store, commit, commitCid, mst, opts.keypair ?? null, opts.clock ?? new TidClock())
  }

  get cid(): Cid {
    return this._cid
  }
  get commit(): SignedCommit {
    return this._commit
  }
  get rev(): string {
    return this._commit.rev
  }
  get mst(): Mst {
    return this._mst
  }

  getRecordCid(collection: string, rkey: string): Cid | null {
    return this._mst.get(formatDataKey(collection, rkey))
  }

  /** The record's decoded value, or null when absent. */
  getRecord(collection: string, rkey: string): unknown {
    const cid = this.getRecordCid(collection, rkey)
    return cid === null ? null : decodeCbor(getBlock(this.store, cidToString(cid)))
  }

  /** Records of one collection in rkey order. */
  *listRecords(
    collection: string,
    opts: { after?: string; limit?: number } = {},
  ): Generator<{ rkey: string; cid: Cid }> {
    const prefix = `${collection}/`
    const list = this._mst.list({
      prefix,
      after: opts.after === undefined ? undefined : prefix + opts.after,
      limit: opts.limit,
    })
    for (const { key, value } of list) yield { rkey: key.slice(prefix.length), cid: value }
  }

  /**
   * Apply a batch of writes as one signed commit: blocks go to the store and
   * the head moves. Creating an existing record, or updating/deleting a
   * missing one, fails (InvalidCommit) and changes nothing.
   */
  applyWrites(writes: RepoWrite[], keypair?: Keypair): Promise<CommitResult> {
    return this.serial(() => this.build(writes, keypair, true))
  }

  /**
   * Build and sign the commit for `writes` without storing anything or moving
   * the head: for callers that store the blocks themselves (say, in one
   * transaction with other rows) and then call `advance`.
   */
  prepare(writes: RepoWrite[], keypair?: Keypair): Promise<CommitResult> {
    return this.serial(() => this.build(writes, keypair, false))
  }

  /** Move the head to a prepared commit (whose blocks are stored by now). */
  advance(result: CommitResult): void {
    if (!bytesEqual(result.prevCommit.bytes, this._cid.bytes))
      fail('InvalidCommit', 'prepared commit is not based on the current head')
    this._commit = result.commit
    this._cid = result.cid
    this._mst = result.mst
    this.lastClockRev = result.rev
  }

  /** One build at a time: later calls wait for earlier ones. */
  private serial(fn: () => Promise<CommitResult>): Promise<CommitResult> {
    const run = this.busy ? this.queue.then(fn) : fn()
    this.busy = true
    const settled: Promise<void> = run.then(
      () => this.settle(settled),
      () => this.settle(settled),
    )
    this.queue = settled
    return run
  }

  private settle(p: Promise<void>): void {
    if (this.queue === p) this.busy = false
  }

  private async build(
    writes: RepoWrite[],
    keypairArg: Keypair | undefined,
    store: boolean,
  ): Promise<CommitResult> {
    const keypair = keypairArg ?? this.keypair
    if (!keypair) fail('InvalidCommit', 'repo has no signing key')
    if (writes.length === 0) fail('InvalidCommit', 'a commit needs at least one write')
    const before = this._mst
    let mst = before
    const newBlocks = new Map<string, Uint8Array>()
    const ops: RepoOp[] = []
    /** New record blocks: CID, bytes, CID, bytes, … */
    const records: (Cid | Uint8Array)[] = []
    const seen = writes.length > 1 ? new Set<string>() : null
    for (const w of writes) {
      if (!isNsid(w.collection)) fail('InvalidCommit', `invalid collection: ${String(w.collection)}`)
      if (!isRecordKey(w.rkey)) fail('InvalidCommit', `invalid record key: ${String(w.rkey)}`)
      const path = formatDataKey(w.collection, w.rkey)
      if (seen !== null) {
        if (seen.has(path)) fail('InvalidCommit', `more than one write to ${path}`)
        seen.add(path)
      }
      if (w.action === 'create') {
        const bytes = encodeRecord(w.record, path)
        const cid = cidForCbor(bytes)
        const next = mst.tryAdd(path, cid)
        if (next === null) fail('InvalidCommit', `record already exists: ${path}`)
        mst = next
        records.push(cid, bytes)
        ops.push({ action: 'create', path, cid, prev: null })
        continue
      }
      const prev = mst.get(path)
      if (w.action === 'delete') {
        if (prev === null) fail('InvalidCommit', `cannot delete missing record ${path}`)
        mst = mst.delete(path)
        ops.push({ action: 'delete', path, cid: null, prev })
        continue
      }
      if (w.action !== 'update') fail('InvalidCommit', `unknown action ${String(w.action)}`)
      if (prev === null) fail('InvalidCommit', `cannot update missing record ${path}`)
      const bytes = encodeRecord(w.record, path)
      const cid = cidForCbor(bytes)
      mst = mst.update(path, cid)
      records.push(cid, bytes)
      ops.push({ action: 'update', path, cid, prev })
    }
    const data = mst.rootCid()
    const since = this._commit.rev
    // Revs from our own clock already increase; parse only revs from elsewhere.
    const rev = since === this.lastClockRev ? this.clock.next() : this.clock.nextAfter(since)
    const unsigned: UnsignedCommit = { did: this.did, version: 3, data, rev, prev: null }
    // Start signing (WebCrypto works off the main thread), and meanwhile work out
    // the blocks: none of that depends on the signature.
    const signing = keypair.sign(encodeUnsignedCommit(unsigned))
    // If the work below throws first, the signing failure must not go unhandled.
    signing.catch(ignore)
    flushPromotions()
    for (let i = 0; i < records.length; i += 2)
      newBlocks.set(cidToString(records[i] as Cid), records[i + 1] as Uint8Array)
    const diff = diffMst(before, mst)
    for (const [c, bytes] of diff.newBlocks) newBlocks.set(c, bytes)
    if (store) for (const [c, bytes] of newBlocks) this.store.put(c, bytes)
    const removedCids = new Set<string>()
    removedCids.add(cidToString(this._cid))
    for (const c of diff.removedNodes) if (!newBlocks.has(c)) removedCids.add(c)
    // Records dropped by updates and deletes (unless re-added by this commit).
    for (const op of ops) {
      if (op.prev === null) continue
      const c = cidToString(op.prev)
      if (!newBlocks.has(c)) removedCids.add(c)
    }
    const prepared = prepareCommit(unsigned)
    const sig = await signing
    const commit: SignedCommit = { did: unsigned.did, version: 3, data, rev, prev: null, sig }
    if (this._mst !== before) fail('InvalidCommit', 'repo changed during commit')
    const commitBytes = prepared.fill(commit.sig)
    const cid = cidForCbor(commitBytes)
    const cidString = cidToString(cid)
    newBlocks.set(cidString, commitBytes)
    const result: CommitResult = {
      cid,
      rev,
      since,
      commit,
      commitBytes,
      data,
      prevData: this._commit.data,
      prevCommit: this._cid,
      newBlocks,
      removedCids,
      ops,
      mst,
    }
    if (store) {
      this.store.put(cidString, commitBytes)
      this.advance(result)
    }
    return result
  }
}
