/** The blobs an agent has uploaded: metadata in its SQLite (the bytes live in R2; the Worker moves them). */

export interface BlobMeta {
  mimeType: string
  size: number
}

export class AgentBlobs {
  constructor(private readonly sql: SqlStorage) {}

  register(cid: string, mimeType: string, size: number): void {
    this.sql.exec(
      'INSERT OR IGNORE INTO blobs (cid, mime_type, size, created_at) VALUES (?, ?, ?, ?)',
      cid,
      mimeType,
      size,
      new Date().toISOString(),
    )
  }

  get(cid: string): BlobMeta | null {
    const row = this.sql
      .exec<{ mime_type: string; size: number }>('SELECT mime_type, size FROM blobs WHERE cid = ?', cid)
      .toArray()[0]
    return row ? { mimeType: row.mime_type, size: row.size } : null
  }

  /** A page of blob CIDs in CID order, after `cursor`. */
  list(limit: number, cursor?: string): { cids: string[]; cursor?: string } {
    const cids = this.sql
      .exec<{ cid: string }>('SELECT cid FROM blobs WHERE cid > ? ORDER BY cid LIMIT ?', cursor ?? '', limit)
      .toArray()
      .map((r) => r.cid)
    return { cids, ...(cids.length === limit ? { cursor: cids.at(-1) } : {}) }
  }
}
