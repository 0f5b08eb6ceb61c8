/**
 * DAG-CBOR codec for MST nodes, hand-written for the one shape they have:
 *   {e: [{k: bytes, p: uint, t: link|null, v: link}, …], l: link|null}
 * (map keys in DAG-CBOR order: length first, then bytes). Encoding writes the
 * canonical form straight into one buffer; decoding accepts exactly that form
 * (plus absent `t`/`l`, read as null) and fails with InvalidMst otherwise.
 */
import type { Cid } from '../cid.ts'
import { cidFromBytes36 } from '../cid.ts'
import { fail } from '../errors.ts'
import { allocBytes } from './alloc.ts'

export interface NodeData {
  keys: string[]
  vals: Cid[]
  /** `subs[0]` is `l`; `subs[i + 1]` is entry i's `t`. */
  subs: (Cid | null)[]
}

const LINK_SIZE = 41 // tag(42) 2 + bytes header 2 + 0x00 + 36 CID bytes

function headerSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

function writeHeader(buf: Uint8Array, pos: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) {
    buf[pos] = m | n
    return pos + 1
  }
  if (n < 0x100) {
    buf[pos] = m | 24
    buf[pos + 1] = n
    return pos + 2
  }
  if (n < 0x10000) {
    buf[pos] = m | 25
    buf[pos + 1] = n >>> 8
    buf[pos + 2] = n
    return pos + 3
  }
  buf[pos] = m | 26
  buf[pos + 1] = n >>> 24
  buf[pos + 2] = n >>> 16
  buf[pos + 3] = n >>> 8
  buf[pos + 4] = n
  return pos + 5
}

function writeLink(buf: Uint8Array, pos: number, cid: Uint8Array): number {
  buf[pos] = 0xd8
  buf[pos + 1] = 0x2a
  buf[pos + 2] = 0x58
  buf[pos + 3] = 0x25
  buf[pos + 4] = 0x00
  buf.set(cid, pos + 5)
  return pos + LINK_SIZE
}

/** Prefix lengths while encoding (encodeNode is not re-entrant). */
const prefixScratch: number[] = []

/** Byte offset of the last entry (or of `l` when there are none) in the last `encodeNode` output. */
export let lastEntryOffset = 0

/**
 * Encode a node. `subs` has one more element than `keys` (see NodeData); they
 * are raw 36-byte CIDs. With `base` (an encoding of a node with the same keys)
 * and `from`, the entries before `from` are copied from `base`, where they end
 * at byte `start` (see `entryOffset`), rather than re-encoded.
 */
export function encodeNode(
  keys: readonly string[],
  vals: readonly Cid[],
  subs: readonly (Uint8Array | null)[],
  base?: Uint8Array,
  start = 0,
  from = 0,
): Uint8Array {
  const n = keys.length
  if (!base) {
    start = 3 + headerSize(n)
    from = 0
  }
  const prefix = prefixScratch
  let size = start + 2 + (subs[0] ? LINK_SIZE : 1)
  let prev = from > 0 ? keys[from - 1]! : ''
  for (let i = from; i < n; i++) {
    const key = keys[i]!
    const max = Math.min(prev.length, key.length)
    let p = 0
    while (p < max && prev.charCodeAt(p) === key.charCodeAt(p)) p++
    prefix[i] = p
    const suffix = key.length - p
    size +=
      1 +
      2 +
      headerSize(suffix) +
      suffix +
      2 +
      headerSize(p) +
      2 +
      (subs[i + 1] ? LINK_SIZE : 1) +
      2 +
      LINK_SIZE
    prev = key
  }
  const buf = allocBytes(size)
  let pos: number
  if (base) {
    buf.set(base.subarray(0, start))
    pos = start
  } else {
    buf[0] = 0xa2
    buf[1] = 0x61
    buf[2] = 0x65 // "e"
    pos = writeHeader(buf, 3, 4, n)
  }
  lastEntryOffset = pos
  for (let i = from; i < n; i++) {
    lastEntryOffset = pos
    const key = keys[i]!
    const p = prefix[i]!
    buf[pos] = 0xa4
    buf[pos + 1] = 0x61
    buf[pos + 2] = 0x6b // "k"
    pos = writeHeader(buf, pos + 3, 2, key.length - p)
    for (let j = p; j < key.length; j++) buf[pos++] = key.charCodeAt(j)
    buf[pos] = 0x61
    buf[pos + 1] = 0x70 // "p"
    pos = writeHeader(buf, pos + 2, 0, p)
    buf[pos] = 0x61
    buf[pos + 1] = 0x74 // "t"
    const t = subs[i + 1]
    if (t) pos = writeLink(buf, pos + 2, t)
    else {
      buf[pos + 2] = 0xf6
      pos += 3
    }
    buf[pos] = 0x61
    buf[pos + 1] = 0x76 // "v"
    pos = writeLink(buf, pos + 2, vals[i]!.bytes)
  }
  if (n === 0 || from >= n) lastEntryOffset = n === 0 ? pos : entryOffset(buf, n - 1)
  buf[pos] = 0x61
  buf[pos + 1] = 0x6c // "l"
  const l = subs[0]
  if (l) pos = writeLink(buf, pos + 2, l)
  else {
    buf[pos + 2] = 0xf6
    pos += 3
  }
  if (pos !== size) fail('InvalidMst', 'node encoding size mismatch')
  return buf
}

/** Where the CBOR header at `pos` ends. */
function headerEnd(buf: Uint8Array, pos: number): number {
  const info = buf[pos]! & 31
  return info < 24 ? pos + 1 : info === 24 ? pos + 2 : info === 25 ? pos + 3 : pos + 5
}

/** The argument of the CBOR header at `pos` (lengths, counts, small ints). */
function headerValue(buf: Uint8Array, pos: number): number {
  const info = buf[pos]! & 31
  if (info < 24) return info
  if (info === 24) return buf[pos + 1]!
  if (info === 25) return (buf[pos + 1]! << 8) | buf[pos + 2]!
  return ((buf[pos + 1]! << 24) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!) >>> 0
}

/**
 * Byte offset of entry `index` (or, for `index` = entry count, of the `l`
 * field) in a canonical encoding made by `encodeNode`.
 */
export function entryOffset(bytes: Uint8Array, index: number): number {
  let pos = headerEnd(bytes, 3)
  for (let i = 0; i < index; i++) {
    pos += 3 // map header, "k"
    pos = headerEnd(bytes, pos) + headerValue(bytes, pos) + 2 // key suffix, "p"
    pos = headerEnd(bytes, pos) + 2 // prefix length, "t"
    pos += bytes[pos] === 0xf6 ? 1 : LINK_SIZE
    pos += 2 + LINK_SIZE // "v"
  }
  return pos
}

// ── decoding ───────────────────────────────────────────────────────────────

class Reader {
  pos = 0
  constructor(readonly buf: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.buf.length) bad('unexpected end of node')
    return this.buf[this.pos++]!
  }

  /** Read a header of major type `major`; returns its argument. Shortest form required. */
  header(major: number): number {
    const ib = this.byte()
    if (ib >> 5 !== major) bad(`expected major type ${major}, got ${ib >> 5}`)
    const info = ib & 31
    if (info < 24) return info
    if (info === 24) {
      const v = this.byte()
      if (v < 24) bad('non-canonical integer')
      return v
    }
    if (info === 25) {
      const v = (this.byte() << 8) | this.byte()
      if (v < 0x100) bad('non-canonical integer')
      return v
    }
    if (info === 26) {
      const v = ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0
      if (v < 0x10000) bad('non-canonical integer')
      return v
    }
    return bad('unsupported integer size')
  }

  /** A one-character text key. */
  key(): number {
    if (this.byte() !== 0x61) bad('expected a one-letter map key')
    return this.byte()
  }

  bytes(): Uint8Array {
    const n = this.header(2)
    if (this.pos + n > this.buf.length) bad('unexpected end of node')
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  linkOrNull(): Cid | null {
    if (this.buf[this.pos] === 0xf6) {
      this.pos++
      return null
    }
    return this.link()
  }

  link(): Cid {
    if (this.byte() !== 0xd8 || this.byte() !== 0x2a) bad('expected a CID link (tag 42)')
    const b = this.bytes()
    if (b.length !== 37 || b[0] !== 0) bad('unsupported CID in link')
    if (b[1] !== 1 || (b[2] !== 0x71 && b[2] !== 0x55) || b[3] !== 0x12 || b[4] !== 0x20)
      bad('unsupported CID in link (want CIDv1 sha-256 dag-cbor/raw)')
    return cidFromBytes36(b.slice(1))
  }
}

function bad(msg: string): never {
  return fail('InvalidMst', `malformed MST node: ${msg}`)
}

/** Decode a node into full keys (prefix compression undone), values and subtree links. */
export function decodeNode(bytes: Uint8Array): NodeData {
  const r = new Reader(bytes)
  const top = r.header(5)
  if (top < 1 || top > 2) bad('node must be a map of {e, l}')
  if (r.key() !== 0x65) bad('node is missing "e"')
  const n = r.header(4)
  const keys = new Array<string>(n)
  const vals = new Array<Cid>(n)
  const subs = new Array<Cid | null>(n + 1)
  let prev = ''
  for (let i = 0; i < n; i++) {
    const fields = r.header(5)
    if (fields < 3 || fields > 4) bad('entry must be a map of {k, p, t, v}')
    if (r.key() !== 0x6b) bad('entry is missing "k"')
    const suffix = r.bytes()
    if (r.key() !== 0x70) bad('entry is missing "p"')
    const p = r.header(0)
    let k = r.key()
    let t: Cid | null = null
    if (k === 0x74) {
      t = r.linkOrNull()
      k = r.key()
    } else if (fields === 4) bad('entry has an unknown field')
    if (k !== 0x76) bad('entry is missing "v"')
    const v = r.link()
    if (p > prev.length) bad('prefix longer than the previous key')
    const key = prev.slice(0, p) + String.fromCharCode(...suffix)
    keys[i] = key
    vals[i] = v
    subs[i + 1] = t
    prev = key
  }
  let l: Cid | null = null
  if (top === 2) {
    if (r.key() !== 0x6c) bad('node has an unknown field')
    l = r.linkOrNull()
  }
  subs[0] = l
  if (r.pos !== bytes.length) bad('trailing bytes')
  return { keys, vals, subs }
}
