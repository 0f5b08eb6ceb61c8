/**
 * The local vector index's hot part: every vector of the current model as
 * int8 (one scale per row) in one contiguous array, scanned exactly on each
 * query. SQLite keeps the float32 originals, which re-rank the candidates.
 * 100,000 memories of 512 dimensions take 51 MB here.
 *
 * The cache is keyed by the index row's id. It may hold rows that were since
 * deleted or changed: callers re-read every candidate from SQLite, and `drop`
 * the ones that are gone.
 */
import { type Quantized, quantize, scanInt8, topK } from './vectors.ts'

export interface CachedRow {
  id: number
  collection: string
  createdAt: number
  q: Quantized
}

export interface Neighbour {
  id: number
  score: number
}

export interface CacheFilter {
  collections?: readonly string[]
  since?: number
}

export class VectorCache {
  private dims = 0
  private size = 0
  private matrix = new Int8Array(0)
  private scales = new Float32Array(0)
  private ids = new Int32Array(0)
  private codes = new Uint8Array(0)
  private created = new Float64Array(0)
  private readonly slots = new Map<number, number>()
  private readonly collectionCodes = new Map<string, number>()

  get count(): number {
    return this.slots.size
  }

  private code(collection: string): number {
    let c = this.collectionCodes.get(collection)
    if (c === undefined) {
      c = this.collectionCodes.size + 1
      this.collectionCodes.set(collection, c)
    }
    return c
  }

  private grow(min: number): void {
    const cap = Math.max(min, this.ids.length * 2, 256)
    const matrix = new Int8Array(cap * this.dims)
    matrix.set(this.matrix.subarray(0, this.size * this.dims))
    const scales = new Float32Array(cap)
    scales.set(this.scales.subarray(0, this.size))
    const ids = new Int32Array(cap).fill(-1)
    ids.set(this.ids.subarray(0, this.size))
    const codes = new Uint8Array(cap)
    codes.set(this.codes.subarray(0, this.size))
    const created = new Float64Array(cap)
    created.set(this.created.subarray(0, this.size))
    Object.assign(this, { matrix, scales, ids, codes, created })
  }

  put(row: CachedRow): void {
    if (this.dims === 0) this.dims = row.q.q.length
    if (row.q.q.length !== this.dims)
      throw new Error(`vector has ${row.q.q.length} dimensions, not ${this.dims}`)
    let slot = this.slots.get(row.id)
    if (slot === undefined) {
      if (this.size === this.ids.length) this.grow(this.size + 1)
      slot = this.size++
      this.slots.set(row.id, slot)
    }
    this.matrix.set(row.q.q, slot * this.dims)
    this.scales[slot] = row.q.scale
    this.ids[slot] = row.id
    this.codes[slot] = this.code(row.collection)
    this.created[slot] = row.createdAt
  }

  drop(id: number): void {
    const slot = this.slots.get(id)
    if (slot === undefined) return
    this.slots.delete(id)
    this.ids[slot] = -1
    // Dead slots are reclaimed by compaction once they are a quarter of the array.
    if (this.size - this.slots.size > Math.max(1024, this.size / 4)) this.compact()
  }

  clear(): void {
    this.size = 0
    this.slots.clear()
    this.ids.fill(-1)
  }

  private compact(): void {
    let to = 0
    for (let from = 0; from < this.size; from++) {
      const id = this.ids[from]!
      if (id < 0) continue
      if (to !== from) {
        this.matrix.copyWithin(to * this.dims, from * this.dims, (from + 1) * this.dims)
        this.scales[to] = this.scales[from]!
        this.ids[to] = id
        this.codes[to] = this.codes[from]!
        this.created[to] = this.created[from]!
        this.slots.set(id, to)
      }
      to++
    }
    this.ids.fill(-1, to, this.size)
    this.size = to
  }

  /** The `k` nearest rows to `query` (unit length), best first, with approximate (int8) cosines. */
  nearest(query: Float32Array, k: number, filter: CacheFilter = {}): Neighbour[] {
    if (this.size === 0 || query.length !== this.dims) return []
    const keep = new Uint8Array(this.size)
    const allowed = filter.collections?.map((c) => this.collectionCodes.get(c) ?? -1)
    const since = filter.since ?? Number.NEGATIVE_INFINITY
    for (let s = 0; s < this.size; s++)
      keep[s] =
        this.ids[s]! >= 0 && (!allowed || allowed.includes(this.codes[s]!)) && this.created[s]! >= since
          ? 1
          : 0
    const scores = new Float32Array(this.size)
    scanInt8(quantize(query), this.matrix, this.scales, this.size, this.dims, keep, scores)
    return topK(scores, this.size, k).map((s) => ({ id: this.ids[s]!, score: scores[s]! }))
  }
}
