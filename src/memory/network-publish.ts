/**
 * An agent's side of the network index: after its own index has vectors,
 * shared memories are sent to NetworkMemoryDO, and deleted or unshared ones
 * taken back. What was sent is recorded per row (`published` = the cid sent),
 * so this is resumable and sends each version once.
 */
import type { Env } from '../env.ts'
import { unwrap } from '../http/xrpc.ts'
import { networkMemoryStub, type SharedMemory } from './network-memory-do.ts'

const BATCH = 50

interface Row {
  id: number
  collection: string
  rkey: string
  cid: string
  text: string
  weight: number
  created_at: number
  valid_until: number | null
  shared: number
  vector: ArrayBuffer | null
}

export async function publishShared(env: Env, sql: SqlStorage, did: string, model: string): Promise<void> {
  for (;;) {
    const gone = sql
      .exec<{ uri: string }>('SELECT uri FROM memory_unpublished LIMIT ?', BATCH)
      .toArray()
      .map((r) => r.uri)
    if (gone.length === 0) break
    unwrap(await networkMemoryStub(env).unpublish(gone))
    for (const uri of gone) sql.exec('DELETE FROM memory_unpublished WHERE uri = ?', uri)
  }
  for (;;) {
    // The two WHERE clauses match the partial indexes memory_to_publish and memory_to_unpublish
    // (`+model` keeps SQLite from preferring the model index, which holds every row).
    const share = sql
      .exec<Row & Record<string, SqlStorageValue>>(
        `SELECT id, collection, rkey, cid, text, weight, created_at, valid_until, shared, vector FROM memory_index
         WHERE shared = 1 AND (published IS NULL OR published != cid) AND +model = ? AND vector IS NOT NULL
         ORDER BY id LIMIT ?`,
        model,
        BATCH,
      )
      .toArray()
    const unshare = sql
      .exec<Row & Record<string, SqlStorageValue>>(
        `SELECT id, collection, rkey, cid, text, weight, created_at, valid_until, shared, vector FROM memory_index
         WHERE shared = 0 AND published IS NOT NULL ORDER BY id LIMIT ?`,
        BATCH,
      )
      .toArray()
    const rows = [...share, ...unshare]
    if (rows.length === 0) return
    if (share.length)
      unwrap(
        await networkMemoryStub(env).publish(
          share.map(
            (r): SharedMemory => ({
              did,
              collection: r.collection,
              rkey: r.rkey,
              cid: r.cid,
              text: r.text,
              weight: r.weight,
              createdAt: r.created_at,
              validUntil: r.valid_until,
              model,
              vector: new Uint8Array(r.vector!),
            }),
          ),
        ),
      )
    if (unshare.length)
      unwrap(
        await networkMemoryStub(env).unpublish(unshare.map((r) => `at://${did}/${r.collection}/${r.rkey}`)),
      )
    // Only the version sent is marked: a row changed meanwhile goes again.
    for (const r of share)
      sql.exec('UPDATE memory_index SET published = ? WHERE id = ? AND cid = ?', r.cid, r.id, r.cid)
    for (const r of unshare) sql.exec('UPDATE memory_index SET published = NULL WHERE id = ?', r.id)
  }
}
