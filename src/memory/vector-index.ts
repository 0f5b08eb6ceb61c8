/**
 * Where an agent's vectors are searched: Vectorize when the `VECTORIZE`
 * binding is present (one namespace per agent), else the local index (the
 * AgentDO's SQLite, scanned through VectorCache). Either way the index rows in
 * SQLite stay the truth: a candidate is kept only if its row still exists.
 */

import type { IndexTables } from './schema.ts'
import { type CacheFilter, type Neighbour, VectorCache } from './vector-cache.ts'
import { quantize } from './vectors.ts'

export type { CacheFilter, Neighbour }

export interface VectorRow {
  id: number
  collection: string
  createdAt: number
  vector: Float32Array
}

export interface VectorIndex {
  /** `local`: the vectors also live in the index rows (the indexer writes them there). */
  readonly kind: 'local' | 'vectorize'
  put(rows: VectorRow[]): Promise<void>
  nearest(query: Float32Array, k: number, filter?: CacheFilter): Promise<Neighbour[]>
  /** Forget what the index holds (before a rebuild, or a change of model). */
  clear(): Promise<void>
}

/** The local index: the cache is filled from SQLite on first use. */
export class LocalVectorIndex implements VectorIndex {
  readonly kind = 'local' as const
  private cache: VectorCache | null = null

  constructor(
    private readonly sql: SqlStorage,
    private readonly tables: IndexTables,
    private readonly model: string,
  ) {}

  private loaded(): VectorCache {
    if (this.cache) return this.cache
    const cache = new VectorCache()
    const rows = this.sql.exec<{
      id: number
      collection: string
      created_at: number
      qvector: ArrayBuffer
      qscale: number
    }>(
      `SELECT id, collection, created_at, qvector, qscale FROM ${this.tables.rows} WHERE model = ? AND qvector IS NOT NULL`,
      this.model,
    )
    for (const r of rows)
      cache.put({
        id: r.id,
        collection: r.collection,
        createdAt: r.created_at,
        q: { q: new Int8Array(r.qvector), scale: r.qscale },
      })
    this.cache = cache
    return cache
  }

  async put(rows: VectorRow[]): Promise<void> {
    // Before the first search there is nothing to keep in step: the load reads the rows.
    if (!this.cache) return
    for (const r of rows)
      this.cache.put({ id: r.id, collection: r.collection, createdAt: r.createdAt, q: quantize(r.vector) })
  }

  async nearest(query: Float32Array, k: number, filter?: CacheFilter): Promise<Neighbour[]> {
    return this.loaded().nearest(query, k, filter)
  }

  drop(id: number): void {
    this.cache?.drop(id)
  }

  async clear(): Promise<void> {
    this.cache = null
  }
}

/** The slice of the Vectorize binding we use. */
export interface VectorizeBinding {
  upsert(
    vectors: {
      id: string
      values: number[]
      namespace?: string
      metadata?: Record<string, string | number>
    }[],
  ): Promise<unknown>
  query(
    vector: number[],
    options: { topK: number; namespace?: string; filter?: Record<string, unknown> },
  ): Promise<{ matches: { id: string; score: number }[] }>
  deleteByIds(ids: string[]): Promise<unknown>
}

/**
 * Vectorize, one namespace per agent (its DID). Row ids are never reused
 * (AUTOINCREMENT), so a vector left behind by a deleted record can only match
 * a row that no longer exists, and the caller drops it.
 */
export class VectorizeIndex implements VectorIndex {
  readonly kind = 'vectorize' as const

  constructor(
    private readonly binding: VectorizeBinding,
    private readonly namespace: string,
    private readonly model: string,
  ) {}

  private key(id: number): string {
    // A change of model must not match the old vectors: the model is part of the id.
    return `${this.model}:${id}`
  }

  async put(rows: VectorRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.binding.upsert(
      rows.map((r) => ({
        id: this.key(r.id),
        values: Array.from(r.vector),
        namespace: this.namespace,
        metadata: { collection: r.collection, createdAt: r.createdAt },
      })),
    )
  }

  async nearest(query: Float32Array, k: number, filter: CacheFilter = {}): Promise<Neighbour[]> {
    const where: Record<string, unknown> = {}
    if (filter.collections) where.collection = { $in: filter.collections }
    if (filter.since !== undefined) where.createdAt = { $gte: filter.since }
    const { matches } = await this.binding.query(Array.from(query), {
      topK: Math.min(k, 100),
      namespace: this.namespace,
      ...(Object.keys(where).length ? { filter: where } : {}),
    })
    const prefix = `${this.model}:`
    return matches
      .filter((m) => m.id.startsWith(prefix))
      .map((m) => ({ id: Number(m.id.slice(prefix.length)), score: m.score }))
  }

  async clear(): Promise<void> {
    // Old vectors carry the old model in their ids and can no longer match.
  }
}
