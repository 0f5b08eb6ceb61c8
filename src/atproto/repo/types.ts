/** Shapes shared by the repo writer, exports and verification. */
import type { Cid } from '../cid.ts'
import { fail } from '../errors.ts'
import type { Keypair } from '../keys.ts'
import type { WritableBlockStore } from '../mst/blocks.ts'
import type { Mst } from '../mst/mst.ts'
import type { TidClock } from '../syntax/index.ts'
import type { SignedCommit } from './commit.ts'

export type WriteAction = 'create' | 'update' | 'delete'

export interface RepoWrite {
  action: WriteAction
  collection: string
  rkey: string
  /** Required for create and update. */
  record?: unknown
}

/** One record operation of a commit, as the firehose reports it. */
export interface RepoOp {
  action: WriteAction
  /** `collection/rkey` */
  path: string
  /** New record CID; null for deletes. */
  cid: Cid | null
  /** Previous record CID; null for creates. */
  prev: Cid | null
}

export interface CommitResult {
  cid: Cid
  rev: string
  /** rev of the previous commit. */
  since: string
  commit: SignedCommit
  commitBytes: Uint8Array
  /** New MST root. */
  data: Cid
  /** Previous MST root. */
  prevData: Cid
  /** The commit this one follows. */
  prevCommit: Cid
  /** Every block this commit added: the commit, new records, new MST nodes. */
  newBlocks: Map<string, Uint8Array>
  /**
   * CIDs no longer reachable: the previous commit, replaced MST nodes, and
   * record CIDs dropped by deletes/updates (a record CID also used under
   * another unchanged key would be listed too: records are not ref-counted).
   */
  removedCids: Set<string>
  ops: RepoOp[]
  /** The new tree (for proofs). */
  mst: Mst
}

export interface RepoOptions {
  /** Where blocks go; a MemoryBlockStore by default. */
  store?: WritableBlockStore
  keypair?: Keypair
  /** Source of revs; one per repo. */
  clock?: TidClock
}

export function formatDataKey(collection: string, rkey: string): string {
  return `${collection}/${rkey}`
}

export function parseDataKey(key: string): { collection: string; rkey: string } {
  const slash = key.indexOf('/')
  if (slash <= 0 || key.indexOf('/', slash + 1) !== -1) fail('InvalidMst', `not a record path: ${key}`)
  return { collection: key.slice(0, slash), rkey: key.slice(slash + 1) }
}
