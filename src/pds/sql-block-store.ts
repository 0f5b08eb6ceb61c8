/** The MST's block store over the AgentDO's SQLite `blocks` table (synchronous, like the store). */
import type { WritableBlockStore } from '../atproto/mst/index.ts'

export class SqlBlockStore implements WritableBlockStore {
  /** The rev that `put` stamps on new blocks; set by the write path before it stores a commit. */
  rev = ''

  constructor(private readonly sql: SqlStorage) {}

  get(cid: string): Uint8Array | undefined {
    const row = this.sql
      .exec<{ bytes: ArrayBuffer }>('SELECT bytes FROM blocks WHERE cid = ?', cid)
      .toArray()[0]
    return row ? new Uint8Array(row.bytes) : undefined
  }

  has(cid: string): boolean {
    return this.sql.exec('SELECT 1 FROM blocks WHERE cid = ?', cid).toArray().length > 0
  }

  put(cid: string, bytes: Uint8Array): void {
    this.sql.exec('INSERT OR IGNORE INTO blocks (cid, bytes, rev) VALUES (?, ?, ?)', cid, bytes, this.rev)
  }

  delete(cid: string): void {
    this.sql.exec('DELETE FROM blocks WHERE cid = ?', cid)
  }
}
