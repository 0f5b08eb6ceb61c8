/**
 * Repo CAR export: the full repo (commit first, then a pre-order walk of the
 * MST with each record after the entry that points at it), a partial export
 * of what changed since an older commit, and the CAR slice of a commit event.
 */

import { type CarBlockBytes, carBytes, carChunks } from '../car.ts'
import { type Cid, cidToString, parseCid } from '../cid.ts'
import { type BlockStore, getBlock } from '../mst/blocks.ts'
import { diffMst } from '../mst/diff.ts'
import { Mst } from '../mst/mst.ts'
import { decodeCommit } from './commit.ts'
import type { Repo } from './repo.ts'
import type { CommitResult } from './types.ts'

/** Every block of the repo at `commitCid`, commit first, each block once. */
export function* repoBlocks(store: BlockStore, commitCid: Cid, mst?: Mst): Generator<CarBlockBytes> {
  const commitKey = cidToString(commitCid)
  const commitBytes = getBlock(store, commitKey)
  yield { cid: commitCid.bytes, bytes: commitBytes }
  const tree = mst ?? Mst.load(store, decodeCommit(commitBytes).data)
  const seen = new Set<string>([commitKey])
  for (const item of tree.walk()) {
    if ('node' in item) {
      if (seen.has(item.node.cidToString)) continue
      seen.add(item.node.cidToString)
      yield { cid: item.node.cid.bytes, bytes: item.node.bytes }
    } else {
      const key = cidToString(item.leaf.value)
      if (seen.has(key)) continue
      seen.add(key)
      yield { cid: item.leaf.value.bytes, bytes: getBlock(store, key) }
    }
  }
}

/** Stream the full repo as CAR chunks (root: the commit). */
export async function* exportRepoCar(
  store: BlockStore,
  commitCid: Cid,
  mst?: Mst,
): AsyncGenerator<Uint8Array> {
  yield* carChunks([commitCid], repoBlocks(store, commitCid, mst))
}

/** The full repo as one CAR buffer. */
export function exportRepoCarBytes(store: BlockStore, commitCid: Cid, mst?: Mst): Uint8Array {
  return carBytes([commitCid], repoBlocks(store, commitCid, mst))
}

/** Export a `Repo`'s current state (uses its in-memory tree). */
export function repoCar(repo: Repo): AsyncGenerator<Uint8Array> {
  return exportRepoCar(repo.store, repo.cid, repo.mst)
}

/**
 * What a holder of the repo at `sinceCommitCid` needs to reach `commitCid`: the
 * new commit, MST nodes not in the old tree, and records of added/updated keys.
 * Both commits' trees must still be readable from `store`.
 */
export function* repoBlocksSince(
  store: BlockStore,
  commitCid: Cid,
  sinceCommitCid: Cid,
): Generator<CarBlockBytes> {
  const commitBytes = getBlock(store, cidToString(commitCid))
  yield { cid: commitCid.bytes, bytes: commitBytes }
  const after = Mst.load(store, decodeCommit(commitBytes).data)
  const before = Mst.load(store, decodeCommit(getBlock(store, cidToString(sinceCommitCid))).data)
  const diff = diffMst(before, after)
  for (const [key, bytes] of diff.newBlocks) yield { cid: parseKey(key), bytes }
  for (const key of diff.newLeafCids) yield { cid: parseKey(key), bytes: getBlock(store, key) }
}

export async function* exportRepoCarSince(
  store: BlockStore,
  commitCid: Cid,
  sinceCommitCid: Cid,
): AsyncGenerator<Uint8Array> {
  yield* carChunks([commitCid], repoBlocksSince(store, commitCid, sinceCommitCid))
}

function parseKey(key: string): Uint8Array {
  return parseCid(key).bytes
}

/**
 * The blocks of a commit event (sync 1.1): every new block of the commit plus,
 * for each op, the covering proof of its key in the new tree, so a consumer can
 * invert the ops on this partial tree and arrive at `prevData`.
 */
export function commitSliceBlocks(result: CommitResult): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>()
  // Commit block first.
  out.set(cidToString(result.cid), result.commitBytes)
  for (const [k, v] of result.newBlocks) out.set(k, v)
  for (const op of result.ops) result.mst.coveringProof(op.path, out)
  return out
}

/** The commit event's `blocks` field: a CAR rooted at the commit. */
export function commitSliceCar(result: CommitResult): Uint8Array {
  const blocks = commitSliceBlocks(result)
  return carBytes(
    [result.cid],
    [...blocks].map(([k, bytes]) => ({ cid: parseKey(k), bytes })),
  )
}
