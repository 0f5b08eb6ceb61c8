/**
 * Persistent MST operations on nodes: each returns new nodes for the changed
 * path and shares everything else. Node layers follow the key heights; where a
 * layer has no keys on a path, a "leafless" node (no entries, only `l`) keeps
 * the layers contiguous, as the canonical tree requires.
 */
import type { Cid } from '../cid.ts'
import { fail } from '../errors.ts'
import { lowerBound, MstNode } from './node.ts'

/** A copy of `arr` with `x` inserted at `i` (exact size: nodes live long). */
function insertAt<T>(arr: readonly T[], i: number, x: T): T[] {
  const out = new Array<T>(arr.length + 1)
  for (let j = 0; j < i; j++) out[j] = arr[j]!
  out[i] = x
  for (let j = i; j < arr.length; j++) out[j + 1] = arr[j]!
  return out
}

/** A copy of `arr` with `count` elements at `i` replaced by `xs`. */
function spliceCopy<T>(arr: readonly T[], i: number, count: number, ...xs: T[]): T[] {
  const out = new Array<T>(arr.length - count + xs.length)
  let k = 0
  for (let j = 0; j < i; j++) out[k++] = arr[j]!
  for (const x of xs) out[k++] = x
  for (let j = i + count; j < arr.length; j++) out[k++] = arr[j]!
  return out
}

function emptyToNull(node: MstNode): MstNode | null {
  return node.keys.length === 0 && node.subs[0] === null ? null : node
}

/** Wrap `node` in leafless parents until it sits at layer `top`. */
export function wrapTo(node: MstNode | null, top: number): MstNode | null {
  if (node === null) return null
  let n = node
  for (let layer = n.layer + 1; layer <= top; layer++) n = MstNode.of(layer, [], [], [n])
  return n
}

/** Look a key up; null when absent. */
export function nodeGet(root: MstNode, key: string): Cid | null {
  let node: MstNode | null = root
  while (node !== null) {
    const keys = node.keys
    const i = lowerBound(keys, key)
    if (i < keys.length && keys[i] === key) return node.vals[i]!
    node = node.subs[i]!
  }
  return null
}

/** Split a subtree around `key` (not in it) into the parts below and above it, same layer. */
export function split(node: MstNode | null, key: string): [MstNode | null, MstNode | null] {
  if (node === null) return [null, null]
  const keys = node.keys
  const vals = node.vals
  const subs = node.subs
  const n = keys.length
  const i = lowerBound(keys, key)
  if (i < n && keys[i] === key) fail('InvalidMst', `split at existing key ${key}`)
  const [slo, shi] = split(subs[i]!, key)
  const lo =
    i === n && slo === subs[i]
      ? node
      : MstNode.of(node.layer, keys.slice(0, i), vals.slice(0, i), [...subs.slice(0, i), slo])
  const hi =
    i === 0 && shi === subs[0]
      ? node
      : MstNode.of(node.layer, keys.slice(i), vals.slice(i), [shi, ...subs.slice(i + 1)])
  return [emptyToNull(lo), emptyToNull(hi)]
}

/** Join two adjacent subtrees of the same layer (every key of `a` below every key of `b`). */
export function merge(a: MstNode | null, b: MstNode | null): MstNode | null {
  if (a === null) return b
  if (b === null) return a
  const as = a.subs
  const bs = b.subs
  const mid = merge(as[as.length - 1]!, bs[0]!)
  const subs = new Array<MstNode | null>(as.length + bs.length - 1)
  let k = 0
  for (let i = 0; i < as.length - 1; i++) subs[k++] = as[i]!
  subs[k++] = mid
  for (let i = 1; i < bs.length; i++) subs[k++] = bs[i]!
  return MstNode.of(a.layer, a.keys.concat(b.keys), a.vals.concat(b.vals), subs)
}

/** Insert a new key of height `height` into a subtree at layer ≥ height; null if the key exists. */
function insert(node: MstNode, key: string, val: Cid, height: number): MstNode | null {
  const layer = node.layer
  const keys = node.keys
  const i = lowerBound(keys, key)
  if (i < keys.length && keys[i] === key) return null
  const subs = node.subs
  if (height === layer) {
    const [lo, hi] = split(subs[i]!, key)
    return MstNode.of(
      layer,
      insertAt(keys, i, key),
      insertAt(node.vals, i, val),
      spliceCopy(subs, i, 1, lo, hi),
    )
  }
  const child = subs[i]!
  const nc = child
    ? insert(child, key, val, height)
    : wrapTo(MstNode.of(height, [key], [val], [null, null]), layer - 1)
  if (nc === null) return null
  const ns = subs.slice()
  ns[i] = nc
  return MstNode.of(layer, keys, node.vals, ns, node)
}

/**
 * Insert at the root, growing the tree upwards when the key is taller than the
 * root; null when the key already exists.
 */
export function rootInsert(root: MstNode, key: string, val: Cid, height: number): MstNode | null {
  if (root.isEmpty) return MstNode.of(height, [key], [val], [null, null])
  if (height > root.layer) {
    const [lo, hi] = split(root, key)
    return MstNode.of(height, [key], [val], [wrapTo(lo, height - 1), wrapTo(hi, height - 1)])
  }
  return insert(root, key, val, height)
}

/** Replace the value of an existing key. */
export function replace(node: MstNode, key: string, val: Cid): MstNode {
  const keys = node.keys
  const i = lowerBound(keys, key)
  if (i < keys.length && keys[i] === key) {
    const nv = node.vals.slice()
    nv[i] = val
    return MstNode.of(node.layer, keys, nv, node.subs, node)
  }
  const child = node.subs[i]
  if (!child) fail('InvalidMst', `key not found: ${key}`)
  const ns = node.subs.slice()
  ns[i] = replace(child, key, val)
  return MstNode.of(node.layer, keys, node.vals, ns, node)
}

function remove(node: MstNode, key: string): MstNode | null {
  const keys = node.keys
  const subs = node.subs
  const i = lowerBound(keys, key)
  let out: MstNode
  if (i < keys.length && keys[i] === key) {
    const nk = spliceCopy(keys, i, 1)
    const nv = spliceCopy(node.vals, i, 1)
    const ns = spliceCopy(subs, i, 2, merge(subs[i]!, subs[i + 1]!))
    out = MstNode.of(node.layer, nk, nv, ns)
  } else {
    const child = subs[i]
    if (!child) fail('InvalidMst', `key not found: ${key}`)
    const ns = subs.slice()
    ns[i] = remove(child, key)
    out = MstNode.of(node.layer, keys, node.vals, ns, node)
  }
  return emptyToNull(out)
}

/** Remove a key; the root is trimmed of leafless layers so the tree stays canonical. */
export function rootRemove(root: MstNode, key: string): MstNode {
  let r = remove(root, key)
  while (r !== null && r.keys.length === 0) r = r.subs[0]!
  return r ?? MstNode.empty()
}
