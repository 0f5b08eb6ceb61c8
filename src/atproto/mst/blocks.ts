/**
 * Block storage underneath the MST and the repo. The interface is synchronous
 * on purpose: Durable Object SQLite is synchronous, and a synchronous store lets
 * tree walks stay free of promise overhead. Blocks are keyed by base32 CID string.
 */
import { fail } from '../errors.ts'

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

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
