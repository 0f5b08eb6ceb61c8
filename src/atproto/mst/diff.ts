/**
 * Diff two MSTs by walking both in key order and skipping every subtree whose
 * CID appears at the same place in both, so the cost follows the size of the
 * change, not of the trees.
 */
import type { Cid } from '../cid.ts'
import { cidToString } from '../cid.ts'
import { bytesEqual } from './blocks.ts'
import type { Mst } from './mst.ts'
import { finalize, MstNode } from './node.ts'

/** Parks the shared walkers between diffs (so they hold no tree). */
const Empty = MstNode.empty()

export interface MstDiff {
  adds: { key: string; cid: Cid }[]
  updates: { key: string; prev: Cid; cid: Cid }[]
  deletes: { key: string; prev: Cid }[]
  /** MST node blocks in the new tree and not in the old one. */
  newBlocks: Map<string, Uint8Array>
  /** MST node CIDs in the old tree and not in the new one. */
  removedNodes: Set<string>
  /** Record CIDs of the adds and updates. */
  readonly newLeafCids: Set<string>
  /**
   * Record CIDs dropped by deletes/updates and not re-added by this diff. (A CID
   * still used by an unchanged key elsewhere would also be listed: records are
   * not reference-counted here.)
   */
  readonly removedLeafCids: Set<string>
}

class Diff implements MstDiff {
  private _new: Set<string> | null = null
  private _removed: Set<string> | null = null
  constructor(
    readonly adds: MstDiff['adds'],
    readonly updates: MstDiff['updates'],
    readonly deletes: MstDiff['deletes'],
    readonly newBlocks: Map<string, Uint8Array>,
    readonly removedNodes: Set<string>,
  ) {}
  get newLeafCids(): Set<string> {
    if (this._new === null) {
      const out = new Set<string>()
      for (const op of this.adds) out.add(cidToString(op.cid))
      for (const op of this.updates) out.add(cidToString(op.cid))
      this._new = out
    }
    return this._new
  }
  get removedLeafCids(): Set<string> {
    if (this._removed === null) {
      const out = new Set<string>()
      for (const op of this.deletes) out.add(cidToString(op.prev))
      for (const op of this.updates) out.add(cidToString(op.prev))
      for (const cid of this.newLeafCids) out.delete(cid)
      this._removed = out
    }
    return this._removed
  }
}

const DONE = 0
const LEAF = 1
const NODE = 2

/** An in-order cursor over a tree's flattened sequence of subtrees and leaves. */
class Walker {
  private nodes: MstNode[] = []
  private positions: number[] = []
  kind = DONE
  key = ''
  val: Cid | null = null
  node: MstNode | null = null

  /** Start over at `root` (walkers are reused: diffs are synchronous). */
  reset(root: MstNode): this {
    this.nodes.length = 0
    this.positions.length = 0
    this.kind = DONE
    this.node = null
    this.val = null
    if (!root.isEmpty) {
      this.kind = NODE
      this.node = root
    }
    return this
  }

  stepOver(): void {
    const top = this.nodes.length - 1
    if (top < 0) {
      this.kind = DONE
      return
    }
    this.positions[top]!++
    this.settle()
  }

  stepInto(): void {
    this.nodes.push(this.node!)
    this.positions.push(0)
    this.settle()
  }

  private settle(): void {
    for (;;) {
      const top = this.nodes.length - 1
      if (top < 0) {
        this.kind = DONE
        return
      }
      const node = this.nodes[top]!
      const pos = this.positions[top]!
      const keys = node.keys
      if (pos > 2 * keys.length) {
        this.nodes.pop()
        this.positions.pop()
        if (top > 0) this.positions[top - 1]!++
        continue
      }
      if ((pos & 1) === 0) {
        const sub = node.subs[pos >> 1]
        if (!sub) {
          this.positions[top] = pos + 1
          continue
        }
        this.kind = NODE
        this.node = sub
        return
      }
      const i = (pos - 1) >> 1
      this.kind = LEAF
      this.key = keys[i]!
      this.val = node.vals[i]!
      return
    }
  }
}

const walkerA = new Walker()
const walkerB = new Walker()

/** What changed from `before` to `after`. */
export function diffMst(before: Mst, after: Mst): MstDiff {
  finalize(before.root)
  finalize(after.root)
  const a = walkerA.reset(before.root)
  const b = walkerB.reset(after.root)
  const adds: MstDiff['adds'] = []
  const updates: MstDiff['updates'] = []
  const deletes: MstDiff['deletes'] = []
  // Nodes stepped into on each side; a node met out of step on both sides is in both trees.
  const enteredA: MstNode[] = []
  const enteredB: MstNode[] = []
  while (a.kind !== DONE || b.kind !== DONE) {
    let stepA = false
    let stepB = false
    if (a.kind === DONE) {
      if (b.kind === LEAF) {
        adds.push({ key: b.key, cid: b.val! })
        b.stepOver()
      } else stepB = true
    } else if (b.kind === DONE) {
      if (a.kind === LEAF) {
        deletes.push({ key: a.key, prev: a.val! })
        a.stepOver()
      } else stepA = true
    } else if (a.kind === LEAF && b.kind === LEAF) {
      if (a.key === b.key) {
        if (a.val !== b.val && !bytesEqual(a.val!.bytes, b.val!.bytes))
          updates.push({ key: a.key, prev: a.val!, cid: b.val! })
        a.stepOver()
        b.stepOver()
      } else if (a.key < b.key) {
        deletes.push({ key: a.key, prev: a.val! })
        a.stepOver()
      } else {
        adds.push({ key: b.key, cid: b.val! })
        b.stepOver()
      }
    } else if (a.kind === NODE && b.kind === NODE) {
      const an = a.node!
      const bn = b.node!
      if (an === bn || bytesEqual(an.cid!.bytes, bn.cid!.bytes)) {
        a.stepOver()
        b.stepOver()
      } else if (an.layer > bn.layer) stepA = true
      else if (bn.layer > an.layer) stepB = true
      else {
        stepA = true
        stepB = true
      }
    } else if (a.kind === NODE) stepA = true
    else stepB = true
    if (stepA) {
      enteredA.push(a.node!)
      a.stepInto()
    }
    if (stepB) {
      enteredB.push(b.node!)
      b.stepInto()
    }
  }
  // An empty root is never walked; it still is (or was) a block of its tree.
  if (!bytesEqual(before.root.cid!.bytes, after.root.cid!.bytes)) {
    if (after.root.isEmpty) enteredB.push(after.root)
    if (before.root.isEmpty) enteredA.push(before.root)
  }
  a.reset(Empty)
  b.reset(Empty)
  // Both lists are short (the changed paths), so plain arrays do.
  const inA: string[] = []
  for (const n of enteredA) inA.push(n.cidString)
  const inB: string[] = []
  const newBlocks = new Map<string, Uint8Array>()
  for (const n of enteredB) {
    const key = n.cidString
    inB.push(key)
    if (!inA.includes(key)) newBlocks.set(key, n.getBytes())
  }
  const removedNodes = new Set<string>()
  for (const key of inA) if (!inB.includes(key)) removedNodes.add(key)
  return new Diff(adds, updates, deletes, newBlocks, removedNodes)
}
