/**
 * NetworkMemoryDO ("main"): the network-wide index of memories agents marked
 * shared. Agents publish their shared rows (text, weight and the vector they
 * already made) after indexing them, and unpublish them when deleted or no
 * longer shared (network-publish.ts). `agent.memory.searchNetwork` ranks
 * them as an agent's own search does, and answers with uris and scores: the
 * content is read from the owning repo, where it can be verified.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../env.ts'
import { type Outcome, outcome } from '../http/xrpc.ts'
import { migrateSql } from '../storage/migrations.ts'
import { embedderFor } from './embedder.ts'
import { NETWORK_INDEX, NETWORK_MIGRATIONS } from './schema.ts'
import { type SearchQuery, searchMemory } from './search.ts'
import { LocalVectorIndex, type VectorRow } from './vector-index.ts'
import { bytesVector, quantize } from './vectors.ts'

export interface SharedMemory {
  did: string
  collection: string
  rkey: string
  cid: string
  text: string
  weight: number
  createdAt: number
  validUntil: number | null
  model: string
  /** float32 little-endian */
  vector: Uint8Array
}

export interface NetworkHit {
  uri: string
  cid: string
  score: number
}

export function networkMemoryStub(env: Env) {
  return env.NETWORK_MEMORY.get(env.NETWORK_MEMORY.idFromName('main'))
}

export class NetworkMemoryDO extends DurableObject<Env> {
  private readonly sql: SqlStorage
  private readonly embedder
  private readonly index

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    migrateSql(this.sql, NETWORK_MIGRATIONS)
    this.embedder = embedderFor(env)
    this.index = this.embedder ? new LocalVectorIndex(this.sql, NETWORK_INDEX, this.embedder.model) : null
  }

  /** Upsert shared memories (idempotent: the same row again changes nothing). */
  publish(items: SharedMemory[]): Promise<Outcome<{ stored: number }>> {
    return outcome(async () => {
      const rows: VectorRow[] = []
      this.ctx.storage.transactionSync(() => {
        for (const m of items) {
          const vector = bytesVector(m.vector)
          const q = quantize(vector)
          const row = this.sql
            .exec<{ id: number }>(
              `INSERT INTO network_memory (did, collection, rkey, cid, text, weight, created_at, valid_until, model, vector, qvector, qscale)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (did, collection, rkey) DO UPDATE SET cid = excluded.cid, text = excluded.text,
                 weight = excluded.weight, created_at = excluded.created_at, valid_until = excluded.valid_until,
                 model = excluded.model, vector = excluded.vector, qvector = excluded.qvector, qscale = excluded.qscale
               RETURNING id`,
              m.did,
              m.collection,
              m.rkey,
              m.cid,
              m.text,
              m.weight,
              m.createdAt,
              m.validUntil,
              m.model,
              m.vector,
              new Uint8Array(q.q.buffer),
              q.scale,
            )
            .one()
          this.sql.exec('DELETE FROM network_fts WHERE rowid = ?', row.id)
          this.sql.exec('INSERT INTO network_fts (rowid, text) VALUES (?, ?)', row.id, m.text)
          if (m.model === this.embedder?.model)
            rows.push({ id: row.id, collection: m.collection, createdAt: m.createdAt, vector })
        }
      })
      await this.index?.put(rows)
      return { stored: items.length }
    })
  }

  unpublish(uris: string[]): Promise<Outcome<{ removed: number }>> {
    return outcome(() =>
      this.ctx.storage.transactionSync(() => {
        let removed = 0
        for (const uri of uris) {
          const m = /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri)
          if (!m) continue
          const gone = this.sql
            .exec<{ id: number }>(
              'DELETE FROM network_memory WHERE did = ? AND collection = ? AND rkey = ? RETURNING id',
              m[1]!,
              m[2]!,
              m[3]!,
            )
            .toArray()
          for (const g of gone) {
            this.sql.exec('DELETE FROM network_fts WHERE rowid = ?', g.id)
            this.index?.drop(g.id)
          }
          removed += gone.length
        }
        return { removed }
      }),
    )
  }

  search(query: SearchQuery): Promise<Outcome<{ results: NetworkHit[] }>> {
    return outcome(async () => {
      const { hits, dropped } = await searchMemory(this.sql, NETWORK_INDEX, this.embedder, this.index, query)
      for (const id of dropped) this.index?.drop(id)
      return {
        results: hits.map((h) => ({
          uri: `at://${h.owner}/${h.collection}/${h.rkey}`,
          cid: h.cid,
          score: h.score,
        })),
      }
    })
  }
}
