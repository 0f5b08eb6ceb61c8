/**
 * Verification of whole repos (CAR exports) and of sync 1.1 commit events
 * (inductive proof: undo the ops on the partial tree, land on `prevData`).
 */

import { parseCar } from '../car.ts'
import { decodeCbor } from '../cbor.ts'
import type { Cid } from '../cid.ts'
import { asCid, blockMatchesCid, cidToString } from '../cid.ts'
import { AtprotoError, fail } from '../errors.ts'
import type { PublicKey } from '../keys.ts'
import { type BlockStore, bytesEqual, getBlock, MemoryBlockStore } from '../mst/blocks.ts'
import { Mst } from '../mst/mst.ts'
import { decodeCommit, type SignedCommit, verifyCommit } from './commit.ts'
import { parseDataKey, type WriteAction } from './types.ts'

export interface VerifiedRecord {
  collection: string
  rkey: string
  cid: Cid
  record: unknown
}

export interface VerifiedRepo {
  did: string
  commitCid: Cid
  commit: SignedCommit
  rev: string
  data: Cid
  records: VerifiedRecord[]
}

export interface VerifyRepoOptions {
  /** Re-hash every block read (default true; CAR input is hashed while parsing). */
  checkHashes?: boolean
  /** Decode every record (default true). */
  decodeRecords?: boolean
}

async function loadCommit(
  store: BlockStore,
  commitCid: Cid,
  did: string | undefined,
  didKey: string | PublicKey | undefined,
): Promise<SignedCommit> {
  const bytes = getBlock(store, cidToString(commitCid))
  if (didKey !== undefined) return verifyCommit(bytes, didKey, did)
  const commit = decodeCommit(bytes)
  if (did !== undefined && commit.did !== did)
    fail('InvalidCommit', `commit is for ${commit.did}, expected ${did}`)
  return commit
}

/**
 * Verify a repo in a block store: the commit (and its signature, given a key),
 * every MST node (present, canonical, keys at their heights and in order) and
 * every record (present, decodable).
 */
export async function verifyRepo(
  store: BlockStore,
  commitCid: Cid,
  did?: string,
  didKey?: string | PublicKey,
  opts: VerifyRepoOptions = {},
): Promise<VerifiedRepo> {
  const checkHashes = opts.checkHashes ?? true
  const decodeRecords = opts.decodeRecords ?? true
  const checked: BlockStore = checkHashes ? hashCheckingStore(store) : store
  const commit = await loadCommit(checked, commitCid, did, didKey)
  const mst = Mst.load(checked, commit.data, { strict: true })
  const records: VerifiedRecord[] = []
  let prev: string | null = null
  for (const item of mst.walk()) {
    if (!('leaf' in item)) continue
    const { key, value } = item.leaf
    if (prev !== null && !(prev < key)) fail('InvalidMst', `keys out of order across nodes at ${key}`)
    prev = key
    const bytes = getBlock(checked, cidToString(value))
    let record: unknown = null
    if (decodeRecords) {
      record = decodeCbor(bytes)
      if (record === null || typeof record !== 'object' || Array.isArray(record))
        fail('InvalidRecord', `record ${key} is not a map`)
    }
    const { collection, rkey } = parseDataKey(key)
    records.push({ collection, rkey, cid: value, record })
  }
  return { did: commit.did, commitCid, commit, rev: commit.rev, data: commit.data, records }
}

/** Verify a full repo CAR (root: the commit). */
export async function verifyRepoCar(
  carBytes: Uint8Array,
  did?: string,
  didKey?: string | PublicKey,
  opts: Omit<VerifyRepoOptions, 'checkHashes'> = {},
): Promise<VerifiedRepo> {
  const { roots, blocks } = parseCar(carBytes, { verify: true })
  if (roots.length !== 1) fail('InvalidCar', `expected one root, got ${roots.length}`)
  return verifyRepo(new MemoryBlockStore(blocks), roots[0]!, did, didKey, { ...opts, checkHashes: false })
}

function hashCheckingStore(store: BlockStore): BlockStore {
  const seen = new Set<string>()
  return {
    has: (cid) => store.has(cid),
    get(cid) {
      const bytes = store.get(cid)
      if (bytes !== undefined && !seen.has(cid)) {
        if (!blockMatchesCid(asCid(cid), bytes)) fail('InvalidCar', `block ${cid} does not match its hash`)
        seen.add(cid)
      }
      return bytes
    },
  }
}

// ── sync 1.1 inductive proofs ──────────────────────────────────────────────

export interface ProofOp {
  action: WriteAction
  path: string
  cid: Cid | string | null
  prev?: Cid | string | null
}

export interface CommitProofInput {
  /** The event's CAR slice, or its blocks already parsed. */
  blocks: Uint8Array | Map<string, Uint8Array>
  /** The commit CID (CAR root). */
  commit: Cid | string
  ops: ProofOp[]
  /** MST root before this commit. */
  prevData: Cid | string
  /** Expected repo DID. */
  did?: string
  /** When given, the commit signature must verify with it. */
  didKey?: string | PublicKey
}

function optCid(c: Cid | string | null | undefined): Cid | null {
  return c === null || c === undefined ? null : asCid(c)
}

function sameCid(a: Cid | null, b: Cid | null): boolean {
  return a === null || b === null ? a === b : bytesEqual(a.bytes, b.bytes)
}

/**
 * Check a commit event: each op's claimed result holds in the new tree, the
 * records are included, and undoing every op on the partial tree in the slice
 * gives exactly `prevData`. Throws InvalidProof (or InvalidSignature /
 * InvalidCommit / InvalidCar) on failure.
 */
export async function verifyCommitProof(
  input: CommitProofInput,
): Promise<{ cid: Cid; commit: SignedCommit }> {
  const blocks = input.blocks instanceof Map ? input.blocks : parseCar(input.blocks, { verify: true }).blocks
  const store = new MemoryBlockStore(blocks)
  const cid = asCid(input.commit)
  const commit = await loadCommit(store, cid, input.did, input.didKey)
  const prevData = asCid(input.prevData)
  try {
    let mst = Mst.load(store, commit.data, { strict: true })
    const seen = new Set<string>()
    for (const op of input.ops) {
      if (seen.has(op.path)) fail('InvalidProof', `more than one op for ${op.path}`)
      seen.add(op.path)
      const opCid = optCid(op.cid)
      const now = mst.get(op.path)
      if (op.action === 'delete') {
        if (now !== null) fail('InvalidProof', `deleted ${op.path} is still in the tree`)
      } else {
        if (opCid === null) fail('InvalidProof', `${op.action} of ${op.path} has no cid`)
        if (!sameCid(now, opCid)) fail('InvalidProof', `${op.path} does not hold the op's cid`)
        if (!store.has(cidToString(opCid))) fail('InvalidProof', `record block for ${op.path} is missing`)
      }
    }
    for (const op of input.ops) {
      const prev = optCid(op.prev)
      if (op.action === 'create') {
        if (prev !== null) fail('InvalidProof', `create of ${op.path} has a prev`)
        mst = mst.delete(op.path)
      } else if (op.action === 'update') {
        if (prev === null) fail('InvalidProof', `update of ${op.path} has no prev`)
        mst = mst.update(op.path, prev)
      } else if (op.action === 'delete') {
        if (prev === null) fail('InvalidProof', `delete of ${op.path} has no prev`)
        mst = mst.add(op.path, prev)
      } else fail('InvalidProof', `unknown action ${String(op.action)}`)
    }
    if (!sameCid(mst.rootCid(), prevData)) fail('InvalidProof', 'undoing the ops does not give prevData')
  } catch (err) {
    if (err instanceof AtprotoError && err.code !== 'InvalidProof')
      fail('InvalidProof', `commit proof does not check: ${err.message}`, err)
    throw err
  }
  return { cid, commit }
}

// ── record proofs (sync.getRecord) ─────────────────────────────────────────

export interface ProvenRecord {
  commit: SignedCommit
  /** The record's CID and value, or null when the proof shows it is absent. */
  cid: Cid | null
  record: Record<string, unknown> | null
}

/**
 * Check a record proof CAR (`com.atproto.sync.getRecord`): the root is a
 * commit signed by `didKey` for `did`, and the path from its MST root to
 * `collection/rkey` is in the CAR, ending at the record's block (or showing
 * there is none). Throws InvalidCar / InvalidSignature / InvalidCommit /
 * MissingBlock / InvalidRecord.
 */
export async function verifyRecordProof(
  car: Uint8Array,
  did: string,
  didKey: string | PublicKey,
  collection: string,
  rkey: string,
): Promise<ProvenRecord> {
  const { roots, blocks } = parseCar(car, { verify: true })
  if (roots.length !== 1) fail('InvalidCar', `expected one root, got ${roots.length}`)
  const store = new MemoryBlockStore(blocks)
  const commit = await loadCommit(store, roots[0]!, did, didKey)
  const cid = Mst.load(store, commit.data).get(`${collection}/${rkey}`)
  if (cid === null) return { commit, cid: null, record: null }
  const record = decodeCbor(getBlock(store, cidToString(cid)))
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    fail('InvalidRecord', `record ${collection}/${rkey} is not a map`)
  return { commit, cid, record: record as Record<string, unknown> }
}
