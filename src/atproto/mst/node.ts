/**
 * An MST node in memory. Nodes are persistent: once built (or loaded) their
 * contents never change, so trees share structure and an update copies only
 * the nodes on its path. A node is either
 *  - a stub: known CID, contents read and decoded from the block store on
 *    first access (then kept), or
 *  - dirty: built by a tree operation, CID and bytes computed on `finalize`.
 * `subs[0]` is the node's left subtree (`l`); `subs[i + 1]` is the subtree to
 * the right of entry i (`t`).
 */
import type { Cid } from '../cid.ts'
import { cidForCbor, cidFromBytes36, cidToString } from '../cid.ts'
import { fail } from '../errors.ts'
import { type HashMidstate, sha256Resume } from '../sha256.ts'
import { isSlabView } from './alloc.ts'
import { type BlockStore, bytesEqual, getBlock } from './blocks.ts'
import { decodeNode, encodeNode, entryOffset, lastEntryOffset } from './codec.ts'
import { isValidMstKey, leadingZerosOnHash } from './key.ts'

export interface LoadContext {
  store: BlockStore
  /** Check every loaded node: key heights, order, canonical encoding, no empty nodes. */
  strict: boolean
}

/** Layer value of a root stub whose layer is not known until it is loaded. */
const UNKNOWN_LAYER = -1

export class MstNode {
  private _layer: number
  private _keys: string[] | null
  private _vals: Cid[] | null
  private _subs: (MstNode | null)[] | null
  private _cidStr: string | null = null
  cid: Cid | null
  bytes: Uint8Array | null
  private ctx: LoadContext | null
  /** For a dirty node: the finalized node it was copied from (cleared on finalize). */
  origin: MstNode | null = null
  /** SHA-256 state before the block holding the last entry, for re-hashing a modified copy. */
  midstate: HashMidstate | null = null
  /** A newer version of this node was built from it (it left the latest tree). */
  superseded = false
  /** `bytes` are known canonical (encoded here, or checked on a strict load): safe to patch. */
  canonical = false

  private constructor(
    layer: number,
    keys: string[] | null,
    vals: Cid[] | null,
    subs: (MstNode | null)[] | null,
    cid: Cid | null,
    ctx: LoadContext | null,
  ) {
    this._layer = layer
    this._keys = keys
    this._vals = vals
    this._subs = subs
    this.cid = cid
    this.bytes = null
    this.ctx = ctx
  }

  /** A node known only by CID; `layer` is -1 for a root whose layer is found on load. */
  static stub(ctx: LoadContext, cid: Cid, layer: number = UNKNOWN_LAYER): MstNode {
    return new MstNode(layer, null, null, null, cid, ctx)
  }

  /**
   * A new (dirty) node. `subs.length` must be `keys.length + 1`. `from` is the
   * node this one is a modified copy of, if any (lets hashing reuse its prefix).
   */
  static of(layer: number, keys: string[], vals: Cid[], subs: (MstNode | null)[], from?: MstNode): MstNode {
    const node = new MstNode(layer, keys, vals, subs, null, null)
    if (from !== undefined) node.origin = from.cid !== null ? from : from.origin
    return node
  }

  static empty(): MstNode {
    return new MstNode(0, [], [], [null], null, null)
  }

  get layer(): number {
    if (this._layer === UNKNOWN_LAYER) this.load()
    return this._layer
  }

  get keys(): string[] {
    return this._keys ?? this.load()._keys!
  }

  get vals(): Cid[] {
    return this._vals ?? this.load()._vals!
  }

  get subs(): (MstNode | null)[] {
    return this._subs ?? this.load()._subs!
  }

  get isLoaded(): boolean {
    return this._keys !== null
  }

  /** No entries and no subtree: only valid as the root of an empty tree. */
  get isEmpty(): boolean {
    return this.keys.length === 0 && this.subs[0] === null
  }

  /** base32 CID string; the node must have a CID (stub, or finalized). */
  get cidString(): string {
    if (this._cidStr === null) {
      if (this.cid === null) fail('InvalidMst', 'node CID not computed yet')
      this._cidStr = cidToString(this.cid)
    }
    return this._cidStr
  }

  /** Encoded bytes (finalizing or reading the store as needed). */
  getBytes(): Uint8Array {
    if (this.bytes === null) {
      if (this.cid === null) finalize(this)
      else this.load()
    }
    return this.bytes!
  }

  private load(): this {
    if (this._keys !== null) return this
    const ctx = this.ctx!
    const bytes = getBlock(ctx.store, this.cidString)
    const data = decodeNode(bytes)
    const keys = data.keys
    let layer = this._layer
    if (layer === UNKNOWN_LAYER) {
      if (keys.length > 0) layer = leadingZerosOnHash(keys[0]!)
      else if (data.subs[0]) {
        if (ctx.strict) fail('InvalidMst', `root node ${this.cidString} has no entries (not canonical)`)
        layer = MstNode.stub(ctx, data.subs[0]).layer + 1
      } else layer = 0
    }
    const subs = new Array<MstNode | null>(data.subs.length)
    for (let i = 0; i < data.subs.length; i++) {
      const link = data.subs[i]
      if (link) {
        if (link.codec !== 0x71) fail('InvalidMst', `subtree link in ${this.cidString} is not dag-cbor`)
        if (layer === 0) fail('InvalidMst', `layer-0 node ${this.cidString} has a subtree`)
        subs[i] = MstNode.stub(ctx, link, layer - 1)
      } else subs[i] = null
    }
    let prev: string | null = null
    for (const key of keys) {
      if (!isValidMstKey(key)) fail('InvalidMst', `node ${this.cidString} has an invalid key`)
      if (prev !== null && !(prev < key)) fail('InvalidMst', `node ${this.cidString} keys out of order`)
      prev = key
    }
    if (ctx.strict) {
      for (const key of keys)
        if (leadingZerosOnHash(key) !== layer)
          fail('InvalidMst', `key ${key} is at layer ${layer} but its height is ${leadingZerosOnHash(key)}`)
      if (this._layer !== UNKNOWN_LAYER && keys.length === 0 && !data.subs[0])
        fail('InvalidMst', `empty non-root node ${this.cidString}`)
      const again = encodeNode(
        keys,
        data.vals,
        data.subs.map((c) => (c ? c.bytes : null)),
      )
      if (!bytesEqual(again, bytes)) fail('InvalidMst', `node ${this.cidString} is not canonically encoded`)
      this.canonical = true
    }
    this._layer = layer
    this._vals = data.vals
    this._subs = subs
    this.bytes = bytes
    this._keys = keys
    return this
  }
}

/** How often `finalize` re-encoded from a previous encoding / resumed its hash (for tests). */
export const finalizeStats = { encoded: 0, patched: 0, resumed: 0 }

/**
 * Compute CIDs (and bytes) for every dirty node under `node`, bottom-up.
 * `onNew` sees each node encoded by this call.
 */
export function finalize(node: MstNode, onNew?: (node: MstNode) => void): Cid {
  if (node.cid !== null) return node.cid
  const keys = node.keys
  const vals = node.vals
  const subs = node.subs
  const n = keys.length
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]
    if (s && s.cid === null) finalize(s, onNew)
  }
  // Children are done; the scratch array is ours until encodeNode returns.
  const subCids = subCidScratch
  subCids.length = subs.length
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]
    subCids[i] = s ? s.cid!.bytes : null
  }
  const origin = node.origin
  node.origin = null
  if (origin !== null) origin.superseded = true
  // A copy of an encoded node with the same keys (a path copy: one value or
  // subtree changed) re-encodes only from the first changed entry, and re-hashes
  // from the saved state when that entry is the last one. Writes with TID keys
  // land on the right edge, so for most nodes on the path it is the last entry.
  let base: Uint8Array | null = null
  let start = 0
  let from = 0
  let resume: HashMidstate | null = null
  if (origin?.canonical && origin.bytes !== null && origin.keys === keys) {
    const ov = origin.vals
    const os = origin.subs
    from = n
    for (let i = 0; i < n; i++) {
      if (vals[i] !== ov[i] || subs[i + 1] !== os[i + 1]) {
        from = i
        break
      }
    }
    base = origin.bytes
    start = entryOffset(base, from)
    const mid = origin.midstate
    if (mid !== null && mid.block * 64 <= start) resume = mid
    finalizeStats.patched++
    if (resume !== null) finalizeStats.resumed++
  }
  const bytes =
    base !== null ? encodeNode(keys, vals, subCids, base, start, from) : encodeNode(keys, vals, subCids)
  node.bytes = bytes
  node.canonical = true
  finalizeStats.encoded++
  if (bytes.length < RESUMABLE_HASH_MIN) node.cid = cidForCbor(bytes)
  else {
    const cidBytes = new Uint8Array(36)
    cidBytes[0] = 1
    cidBytes[1] = 0x71
    cidBytes[2] = 0x12
    cidBytes[3] = 32
    node.midstate = sha256Resume(bytes, cidBytes, 4, resume, Math.floor(lastEntryOffset / 64))
    node.cid = cidFromBytes36(cidBytes)
  }
  promoteLater(node)
  onNew?.(node)
  return node.cid
}

// Node bytes are encoded into shared slabs (see alloc.ts), which is much faster
// than one allocation per node but would let a few long-lived nodes pin whole
// slabs. So every finalized node passes through a queue; once it is old enough,
// if no newer version has replaced it (it is likely to stay in the tree), its
// bytes move to a buffer of their own, and the slab can be freed once the
// short-lived nodes around it are gone. The copying is done by
// `flushPromotions` (a writer calls it while it waits on its signature), or by
// `finalize` itself when the queue grows past twice its size.
const PROMOTE_AFTER = 256
const QUEUE = 2 * PROMOTE_AFTER
const queue: (MstNode | undefined)[] = new Array(QUEUE)
let queueHead = 0
let queueLength = 0

function promoteLater(node: MstNode): void {
  if (queueLength === QUEUE) promoteOne()
  queue[(queueHead + queueLength) % QUEUE] = node
  queueLength++
}

function promoteOne(): void {
  const node = queue[queueHead]!
  queue[queueHead] = undefined
  queueHead = (queueHead + 1) % QUEUE
  queueLength--
  if (!node.superseded && node.bytes !== null && isSlabView(node.bytes)) node.bytes = node.bytes.slice()
}

/** Give long-lived nodes their own buffers (see above); cheap, call it when idle. */
export function flushPromotions(): void {
  while (queueLength > PROMOTE_AFTER) promoteOne()
}

const subCidScratch: (Uint8Array | null)[] = []

/** Nodes at least this big keep hash states for resumable re-hashing. */
const RESUMABLE_HASH_MIN = 128

/** Index of the first key ≥ `key` (binary search; keys are ASCII so `<` is byte order). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
