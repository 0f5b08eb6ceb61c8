/**
 * Vectors for index rows that lack one (new, changed, or made by another
 * model). A batch is embedded outside any transaction, then stored only where
 * the row still holds the same record (same cid): a record changed or deleted
 * meanwhile is never given a stale vector. Drains are serialised, and each
 * batch is short, so a long backlog (a rebuild, a model change) never holds
 * the object for long.
 */
import type { Embedder } from './embedder.ts'
import { EMBED_CHARS } from './memory-text.ts'
import type { VectorIndex, VectorRow } from './vector-index.ts'
import { quantize, vectorBytes } from './vectors.ts'

const BATCH = 64

interface PendingRow {
  id: number
  collection: string
  cid: string
  text: string
  created_at: number
}

export class MemoryIndexer {
  private running: Promise<number> = Promise.resolve(0)

  constructor(
    private readonly sql: SqlStorage,
    private readonly transactionSync: <T>(fn: () => T) => T,
    private readonly embedder: Embedder,
    private readonly index: VectorIndex,
  ) {}

  /** Rows still waiting for a vector (adoptModel clears every vector of another model). */
  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM memory_index WHERE model IS NULL').one().n
  }

  /** Embed up to `maxRows` waiting rows (all of them by default); resolves to how many were done. */
  drain(maxRows = Number.POSITIVE_INFINITY): Promise<number> {
    const run = this.running.catch(() => 0).then(() => this.drainNow(maxRows))
    this.running = run
    return run
  }

  private async drainNow(maxRows: number): Promise<number> {
    await this.adoptModel()
    let done = 0
    while (done < maxRows) {
      const rows = this.sql
        .exec<PendingRow & Record<string, SqlStorageValue>>(
          `SELECT id, collection, cid, text, created_at FROM memory_index
           WHERE model IS NULL ORDER BY id LIMIT ?`,
          Math.min(BATCH, maxRows - done),
        )
        .toArray()
      if (rows.length === 0) break
      const vectors = await this.embedder.embed(rows.map((r) => r.text.slice(0, EMBED_CHARS)))
      const stored: VectorRow[] = []
      this.transactionSync(() => {
        for (const [i, r] of rows.entries()) {
          const vector = vectors[i]!
          const local = this.index.kind === 'local'
          const q = local ? quantize(vector) : null
          const changed = this.sql.exec(
            `UPDATE memory_index SET model = ?, vector = ?, qvector = ?, qscale = ? WHERE id = ? AND cid = ?`,
            this.embedder.model,
            local ? vectorBytes(vector) : null,
            q ? new Uint8Array(q.q.buffer) : null,
            q ? q.scale : null,
            r.id,
            r.cid,
          ).rowsWritten
          if (changed > 0)
            stored.push({ id: r.id, collection: r.collection, createdAt: r.created_at, vector })
        }
      })
      await this.index.put(stored)
      done += rows.length
      // Let other requests in between batches.
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    return done
  }

  /** Vectors of another model are never compared with this one's: a new model re-embeds everything. */
  private async adoptModel(): Promise<void> {
    const stored = this.sql
      .exec<{ value: string }>("SELECT value FROM memory_settings WHERE key = 'model'")
      .toArray()[0]?.value
    if (stored === this.embedder.model) return
    this.transactionSync(() => {
      this.sql.exec('UPDATE memory_index SET model = NULL, vector = NULL, qvector = NULL, qscale = NULL')
      this.sql.exec(
        "INSERT OR REPLACE INTO memory_settings (key, value) VALUES ('model', ?)",
        this.embedder.model,
      )
    })
    await this.index.clear()
  }
}
