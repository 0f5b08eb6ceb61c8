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
      const vectors = await this.embedRows(rows)
      const stored: VectorRow[] = []
      this.transactionSync(() => {
        for (const [i, r] of rows.entries()) {
          // null: nothing to embed (no text, or text the model refuses); the row stays keyword-only.
          const vector = vectors[i] ?? null
          const q = vector && this.index.kind === 'local' ? quantize(vector) : null
          const changed = this.sql.exec(
            `UPDATE memory_index SET model = ?, vector = ?, qvector = ?, qscale = ? WHERE id = ? AND cid = ?`,
            this.embedder.model,
            q && vector ? vectorBytes(vector) : null,
            q ? new Uint8Array(q.q.buffer) : null,
            q ? q.scale : null,
            r.id,
            r.cid,
          ).rowsWritten
          if (changed > 0 && vector)
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

  /**
   * One vector per row, or null for a row with nothing to embed. When a batch
   * fails, its rows are tried one by one: if some succeed, the embedder is up
   * and the others are texts it refuses, so they are skipped instead of
   * blocking every row after them. If none succeeds, the embedder is down and
   * the error goes to the caller (the rows wait for the retry).
   */
  private async embedRows(rows: PendingRow[]): Promise<(Float32Array | null)[]> {
    const texts = rows.map((r) => r.text.replace(/\s+/g, ' ').trim().slice(0, EMBED_CHARS))
    const todo = texts.flatMap((t, i) => (t ? [i] : []))
    const out: (Float32Array | null)[] = rows.map(() => null)
    if (todo.length === 0) return out
    try {
      const vectors = await this.embedder.embed(todo.map((i) => texts[i]!))
      for (const [k, i] of todo.entries()) out[i] = vectors[k] ?? null
      return out
    } catch (batchError) {
      if (todo.length === 1) throw batchError
      let ok = 0
      for (const i of todo)
        try {
          out[i] = (await this.embedder.embed([texts[i]!]))[0] ?? null
          ok++
        } catch {}
      if (ok === 0) throw batchError
      return out
    }
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
