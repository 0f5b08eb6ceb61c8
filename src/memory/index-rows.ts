/**
 * The write path's side of the memory index: called inside a commit's
 * transaction for every op on an indexed agent.memory collection. A created
 * or updated record gets its row (text, weight, keyword entry) at once and a
 * vector later (indexer.ts); a deleted one loses its row in the same
 * transaction, so search can never return what the repo no longer holds.
 */
import { indexedFields, isIndexed } from './memory-text.ts'

export interface IndexOp {
  collection: string
  rkey: string
  /** null: deleted */
  cid: string | null
  record?: Record<string, unknown>
}

export function indexMemoryOp(sql: SqlStorage, did: string, op: IndexOp, now = Date.now()): void {
  if (!isIndexed(op.collection)) return
  const old = sql
    .exec<{ id: number; published: string | null }>(
      'SELECT id, published FROM memory_index WHERE collection = ? AND rkey = ?',
      op.collection,
      op.rkey,
    )
    .toArray()[0]
  if (op.cid === null || !op.record) {
    if (!old) return
    sql.exec('DELETE FROM memory_index WHERE id = ?', old.id)
    sql.exec('DELETE FROM memory_fts WHERE rowid = ?', old.id)
    if (old.published)
      sql.exec(
        'INSERT OR IGNORE INTO memory_unpublished (uri) VALUES (?)',
        `at://${did}/${op.collection}/${op.rkey}`,
      )
    return
  }
  const f = indexedFields(op.collection, op.record, now)
  // An update keeps the row's id (the in-memory vector cache is keyed by it); its vector is redone.
  const row = sql
    .exec<{ id: number }>(
      `INSERT INTO memory_index (collection, rkey, cid, text, weight, created_at, shared, fact_key, valid_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (collection, rkey) DO UPDATE SET
         cid = excluded.cid, text = excluded.text, weight = excluded.weight, created_at = excluded.created_at,
         shared = excluded.shared, fact_key = excluded.fact_key, valid_until = excluded.valid_until,
         model = NULL, vector = NULL, qvector = NULL, qscale = NULL
       RETURNING id`,
      op.collection,
      op.rkey,
      op.cid,
      f.text,
      f.weight,
      f.createdAt,
      f.shared ? 1 : 0,
      f.factKey,
      f.validUntil,
    )
    .one()
  sql.exec('DELETE FROM memory_fts WHERE rowid = ?', row.id)
  sql.exec('INSERT INTO memory_fts (rowid, text) VALUES (?, ?)', row.id, f.text)
}

/** Forget the whole index (a rebuild follows). */
export function clearMemoryIndex(sql: SqlStorage, did: string): void {
  sql.exec(
    `INSERT OR IGNORE INTO memory_unpublished (uri)
     SELECT 'at://' || ? || '/' || collection || '/' || rkey FROM memory_index WHERE published IS NOT NULL`,
    did,
  )
  sql.exec('DELETE FROM memory_index')
  sql.exec('DELETE FROM memory_fts')
}
