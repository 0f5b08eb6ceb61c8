/**
 * The atproto Merkle Search Tree, as a persistent value: every write returns a
 * new `Mst` sharing unchanged nodes with the old one. Reads go through a
 * synchronous block store; nodes are decoded on first use and kept. CIDs are
 * computed lazily, so a batch of writes re-encodes each touched node once.
 */
import type { Cid } from '../cid.ts'
import { asCid } from '../cid.ts'
import { fail } from '../errors.ts'
import { type BlockStore, MemoryBlockStore } from './blocks.ts'
import { assertValidMstKey, leadingZerosOnHash } from './key.ts'
import { finalize, type LoadContext, lowerBound, MstNode } from './node.ts'
import { nodeGet, replace, rootInsert, rootRemove } from './ops.ts'

export interface MstEntry {
  key: string
  value: Cid
}

export interface ListOptions {
  /** Start at this key (inclusive). */
  from?: string
  /** Start after this key (exclusive). */
  after?: string
  /** Only keys starting with this prefix. */
  prefix?: string
  /** At most this many entries. */
  limit?: number
}

export interface MstLoadOptions {
  /** Validate every node as it is loaded (heights, order, canonical bytes). */
  strict?: boolean
}

export interface MstBlock {
  cid: Cid
  cidToString: string
  bytes: Uint8Array
}

export class Mst {
  private constructor(
    readonly store: BlockStore,
    readonly root: MstNode,
  ) {}

  /** An empty tree over `store` (reads only happen for nodes loaded from it). */
  static create(store: BlockStore = new MemoryBlockStore()): Mst {
    return new Mst(store, MstNode.empty())
  }

  /** A tree rooted at `root` in `store`; nothing is read until needed. */
  static load(store: BlockStore, root: Cid | string, opts: MstLoadOptions = {}): Mst {
    const ctx: LoadContext = { store, strict: opts.strict ?? false }
    return new Mst(store, MstNode.stub(ctx, asCid(root)))
  }

  /** Build a tree from entries (any order). */
  static fromEntries(entries: Iterable<MstEntry>, store: BlockStore = new MemoryBlockStore()): Mst {
    let mst = new Mst(store, MstNode.empty())
    for (const { key, value } of entries) mst = mst.add(key, value)
    return mst
  }

  private with(root: MstNode): Mst {
    return new Mst(this.store, root)
  }

  get(key: string): Cid | null {
    return nodeGet(this.root, key)
  }

  has(key: string): boolean {
    return nodeGet(this.root, key) !== null
  }

  /** Add a new key; fails if it exists. */
  add(key: string, value: Cid): Mst {
    const next = this.tryAdd(key, value)
    if (next === null) fail('InvalidMst', `key already exists: ${key}`)
    return next
  }

  /** Add a new key; null (and no change) if it exists. */
  tryAdd(key: string, value: Cid): Mst | null {
    assertValidMstKey(key)
    const root = rootInsert(this.root, key, value, leadingZerosOnHash(key))
    return root === null ? null : this.with(root)
  }

  /** Change an existing key's value; fails if absent. */
  update(key: string, value: Cid): Mst {
    assertValidMstKey(key)
    return this.with(replace(this.root, key, value))
  }

  /** Add or update. */
  set(key: string, value: Cid): Mst {
    return this.has(key) ? this.update(key, value) : this.add(key, value)
  }

  /** Remove an existing key; fails if absent. */
  delete(key: string): Mst {
    return this.with(rootRemove(this.root, key))
  }

  get isEmpty(): boolean {
    return this.root.isEmpty
  }

  /** Root CID, encoding and hashing only nodes changed since they were last computed. */
  rootCid(): Cid {
    return finalize(this.root)
  }

  /**
   * Compute the root CID and return the blocks encoded by this call (the nodes
   * created by writes since the last computation).
   */
  finalize(): { root: Cid; blocks: MstBlock[] } {
    const blocks: MstBlock[] = []
    const root = finalize(this.root, (n) =>
      blocks.push({ cid: n.cid!, cidToString: n.cidString, bytes: n.bytes! }),
    )
    return { root, blocks }
  }

  /** Entries in key order, optionally from a key / after a key / under a prefix. */
  *list(opts: ListOptions = {}): Generator<MstEntry> {
    const { after, prefix } = opts
    let limit = opts.limit ?? Number.POSITIVE_INFINITY
    if (limit <= 0) return
    let from = opts.from
    if (after !== undefined && (from === undefined || after >= from)) from = after
    if (prefix !== undefined && (from === undefined || prefix > from)) from = prefix
    for (const entry of walkFrom(this.root, from)) {
      if (after !== undefined && entry.key <= after) continue
      if (prefix !== undefined && !entry.key.startsWith(prefix)) return
      yield entry
      if (--limit <= 0) return
    }
  }

  /** Every entry in key order, as an array (faster than `list()` for whole trees). */
  entries(): MstEntry[] {
    const out: MstEntry[] = []
    collect(this.root, out)
    return out
  }

  /**
   * Every node block reachable from the root, pre-order (a node before its
   * subtrees), with the leaves interleaved in key order.
   */
  *walk(): Generator<{ node: MstBlock } | { leaf: MstEntry }> {
    finalize(this.root)
    if (this.root.isEmpty) {
      yield { node: blockOf(this.root) }
      return
    }
    yield* walkNode(this.root)
  }

  /** Every node block reachable from the root. */
  *nodes(): Generator<MstBlock> {
    for (const item of this.walk()) if ('node' in item) yield item.node
  }

  /**
   * The blocks proving `key`'s presence or absence: the nodes on its search
   * path, and when present, the nodes along the inner edges of its two
   * neighbouring subtrees (what removing it would merge).
   */
  coveringProof(key: string, into: Map<string, Uint8Array> = new Map()): Map<string, Uint8Array> {
    finalize(this.root)
    let node: MstNode | null = this.root
    while (node !== null) {
      into.set(node.cidString, node.getBytes())
      const keys = node.keys
      const i = lowerBound(keys, key)
      if (i < keys.length && keys[i] === key) {
        for (let l = node.subs[i] ?? null; l !== null; l = l.subs[l.subs.length - 1] ?? null)
          into.set(l.cidString, l.getBytes())
        for (let r = node.subs[i + 1] ?? null; r !== null; r = r.subs[0] ?? null)
          into.set(r.cidString, r.getBytes())
        return into
      }
      node = node.subs[i] ?? null
    }
    return into
  }

  /** Count every entry (walks the whole tree). */
  size(): number {
    return countLeaves(this.root)
  }
}

function blockOf(n: MstNode): MstBlock {
  return { cid: n.cid!, cidToString: n.cidString, bytes: n.getBytes() }
}

function* walkNode(node: MstNode): Generator<{ node: MstBlock } | { leaf: MstEntry }> {
  yield { node: blockOf(node) }
  const keys = node.keys
  const vals = node.vals
  const subs = node.subs
  if (subs[0]) yield* walkNode(subs[0])
  for (let i = 0; i < keys.length; i++) {
    yield { leaf: { key: keys[i]!, value: vals[i]! } }
    const s = subs[i + 1]
    if (s) yield* walkNode(s)
  }
}

function* walkFrom(node: MstNode, from: string | undefined): Generator<MstEntry> {
  const keys = node.keys
  const vals = node.vals
  const subs = node.subs
  const start = from === undefined ? 0 : lowerBound(keys, from)
  const first = subs[start]
  if (first) yield* walkFrom(first, from)
  for (let i = start; i < keys.length; i++) {
    yield { key: keys[i]!, value: vals[i]! }
    const s = subs[i + 1]
    if (s) yield* walkFrom(s, undefined)
  }
}

function collect(node: MstNode, out: MstEntry[]): void {
  const keys = node.keys
  const vals = node.vals
  const subs = node.subs
  if (subs[0]) collect(subs[0], out)
  for (let i = 0; i < keys.length; i++) {
    out.push({ key: keys[i]!, value: vals[i]! })
    const s = subs[i + 1]
    if (s) collect(s, out)
  }
}

function countLeaves(node: MstNode): number {
  let n = node.keys.length
  for (const s of node.subs) if (s) n += countLeaves(s)
  return n
}
