/**
 * Block storage underneath the MST and the repo. The interface is synchronous
 * on purpose: Durable Object SQLite is synchronous, and a synchronous store lets
 * tree walks stay free of promise overhead. Blocks are keyed by base32 CID string.
 */
import { toBase32 } from '@atcute/multibase'
import { type Cid, CODEC_DAG_CBOR, CODEC_RAW, cidToString, decodeCid, parseCid } from '../cid.ts'
import { fail } from '../errors.ts'
import { sha256Into } from './sha256.ts'

export interface BlockStore {
  get(cid: string): Uint8Array | undefined
  has(cid: string): boolean
}

export interface WritableBlockStore extends BlockStore {
  put(cid: string, bytes: Uint8Array): void
  delete(cid: string): void
}

/**
 * A block store over a Map; also what CAR slices and proofs are loaded into.
 * Pass a Map to wrap it as is.
 */
export class MemoryBlockStore implements WritableBlockStore {
  readonly blocks: Map<string, Uint8Array>
  constructor(blocks?: Map<string, Uint8Array> | Iterable<[string, Uint8Array]>) {
    this.blocks = blocks instanceof Map ? blocks : new Map(blocks ?? [])
  }
  get(cid: string): Uint8Array | undefined {
    return this.blocks.get(cid)
  }
  has(cid: string): boolean {
    return this.blocks.has(cid)
  }
  put(cid: string, bytes: Uint8Array): void {
    this.blocks.set(cid, bytes)
  }
  delete(cid: string): void {
    this.blocks.delete(cid)
  }
  get size(): number {
    return this.blocks.size
  }
}

const ARENA_CHUNK = 1 << 20

/**
 * An in-memory block store that copies blocks into large chunks and indexes
 * them by number: holding many small blocks then costs the garbage collector
 * one string per block, not a buffer object each (at the price of a copy per
 * put). Append-only: space of deleted blocks is not reused. `get` returns a
 * view into the chunk.
 */
export class ArenaBlockStore implements WritableBlockStore {
  private index = new Map<string, number>()
  private chunks: Uint8Array[] = []
  private current = new Uint8Array(ARENA_CHUNK)
  private currentIndex = 0
  private used = 0
  /** Per block: chunk index and offset, and length. */
  private chunkOf: number[] = []
  private offsetOf: number[] = []
  private lengthOf: number[] = []

  constructor() {
    this.chunks.push(this.current)
  }

  get(cid: string): Uint8Array | undefined {
    const i = this.index.get(cid)
    if (i === undefined) return undefined
    const offset = this.offsetOf[i]!
    return this.chunks[this.chunkOf[i]!]!.subarray(offset, offset + this.lengthOf[i]!)
  }

  has(cid: string): boolean {
    return this.index.has(cid)
  }

  put(cid: string, bytes: Uint8Array): void {
    if (this.index.has(cid)) return
    const len = bytes.length
    let chunk: number
    let offset: number
    if (len > ARENA_CHUNK / 8) {
      // Big blocks get a chunk of their own.
      chunk = this.chunks.length
      this.chunks.push(bytes.slice())
      offset = 0
    } else {
      if (this.used + len > ARENA_CHUNK) {
        this.current = new Uint8Array(ARENA_CHUNK)
        this.currentIndex = this.chunks.length
        this.chunks.push(this.current)
        this.used = 0
      }
      chunk = this.currentIndex
      offset = this.used
      this.current.set(bytes, offset)
      this.used += len
    }
    this.index.set(cid, this.chunkOf.length)
    this.chunkOf.push(chunk)
    this.offsetOf.push(offset)
    this.lengthOf.push(len)
  }

  delete(cid: string): void {
    this.index.delete(cid)
  }

  get size(): number {
    return this.index.size
  }

  *entries(): Generator<[string, Uint8Array]> {
    for (const cid of this.index.keys()) yield [cid, this.get(cid)!]
  }
}

/** Read a block or fail with MissingBlock. */
export function getBlock(store: BlockStore, cid: string): Uint8Array {
  const bytes = store.get(cid)
  if (bytes === undefined) fail('MissingBlock', `missing block ${cid}`)
  return bytes
}

/**
 * A CID over its 36 raw bytes, with the digest view made on demand: the MST
 * holds one per record, so one object per CID instead of three matters.
 */
class Cid36 implements Cid {
  readonly version = 1
  readonly codec: number
  readonly bytes: Uint8Array
  /** base32 string, once asked for (see `cidStr`). */
  str: string | null = null
  constructor(bytes: Uint8Array) {
    this.codec = bytes[1]!
    this.bytes = bytes
  }
  get digest(): { codec: number; contents: Uint8Array } {
    return { codec: 0x12, contents: this.bytes.subarray(4, 36) }
  }
}

function cidFromHash(codec: number, bytes: Uint8Array): Cid {
  const buf = new Uint8Array(36)
  buf[0] = 1
  buf[1] = codec
  buf[2] = 0x12
  buf[3] = 32
  sha256Into(bytes, buf, 4)
  return new Cid36(buf)
}

/** CID (dag-cbor, sha-256) of encoded bytes, computed synchronously. */
export function cidForCborSync(bytes: Uint8Array): Cid {
  return cidFromHash(CODEC_DAG_CBOR, bytes)
}

/** CID (raw, sha-256) of bytes, computed synchronously. */
export function cidForRawSync(bytes: Uint8Array): Cid {
  return cidFromHash(CODEC_RAW, bytes)
}

/** Does `bytes` hash to `cid` (sha-256, any codec)? */
export function blockMatchesCid(cid: Cid, bytes: Uint8Array): boolean {
  const digest = new Uint8Array(32)
  sha256Into(bytes, digest)
  const want = cid.bytes
  if (want.length !== 36 || want[2] !== 0x12 || want[3] !== 32) return false
  for (let i = 0; i < 32; i++) if (digest[i] !== want[i + 4]) return false
  return true
}

/** A CID object viewing existing 36 CID bytes (no validation beyond the header). */
export function cidFromBytes36(bytes: Uint8Array): Cid {
  return new Cid36(bytes)
}

/** base32 string of a CID (what stores key blocks by). */
export function cidStr(cid: Cid): string {
  if (cid instanceof Cid36) {
    if (cid.str === null) cid.str = base32Cid(cid.bytes)
    return cid.str
  }
  return base32Cid(cid.bytes)
}

const B32 = new TextEncoder().encode('abcdefghijklmnopqrstuvwxyz234567')
const b32Scratch = new Uint8Array(59)
const ascii = new TextDecoder()

/**
 * `b` + base32 of 36 CID bytes as one flat string, built in a scratch buffer:
 * one allocation, where joining pieces makes several (and a rope that each Map
 * lookup flattens again).
 */
function base32Cid(bytes: Uint8Array): string {
  if (bytes.length !== 36) return `b${toBase32(bytes)}`
  const out = b32Scratch
  out[0] = 0x62 // "b"
  let o = 1
  let buffer = 0
  let bits = 0
  for (let i = 0; i < 36; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[o++] = B32[(buffer >>> bits) & 31]!
    }
  }
  out[o] = B32[(buffer << (5 - bits)) & 31]!
  return ascii.decode(out)
}

/** Accept a CID as an object or a string. */
export function asCid(cid: Cid | string): Cid {
  return typeof cid === 'string' ? parseCid(cid) : cid
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export { cidToString, decodeCid }
