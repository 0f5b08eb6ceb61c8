/**
 * An agent's inbox, in its own Durable Object SQLite (table from the
 * AgentDO's migration 4): verified comms records addressed to it. Pure
 * storage; delivery.ts decides what may enter, and handoff.ts keeps out a
 * handoff whose refs fail (it is rejected, never filed: every item here was
 * accepted, so `state` is only ever `unread` or `read`).
 */

export interface InboxItem {
  uri: string
  cid: string
  collection: string
  sender: string
  record: Record<string, unknown>
  receivedAt: string
  /** Every item was checked against the sender's signed repo before it was accepted. */
  verified: true
  state: 'unread' | 'read'
}

export interface InboxQuery {
  limit: number
  /** The id after which to continue (from a previous page's cursor). */
  cursor?: number
  collection?: string
  unreadOnly?: boolean
}

type Row = {
  id: number
  uri: string
  cid: string
  collection: string
  sender: string
  record: string
  received_at: string
  read: number
}

export class Inbox {
  constructor(private readonly sql: SqlStorage) {}

  /** Whether the item was already accepted. */
  has(uri: string, cid: string): boolean {
    return this.sql.exec('SELECT 1 FROM inbox WHERE uri = ? AND cid = ?', uri, cid).toArray().length > 0
  }

  /** Accept an item; null when it was already there (a redelivery). */
  accept(item: Omit<InboxItem, 'receivedAt' | 'verified' | 'state'>): InboxItem | null {
    if (this.has(item.uri, item.cid)) return null
    const receivedAt = new Date().toISOString()
    this.sql.exec(
      'INSERT INTO inbox (uri, cid, collection, sender, record, received_at) VALUES (?, ?, ?, ?, ?, ?)',
      item.uri,
      item.cid,
      item.collection,
      item.sender,
      JSON.stringify(item.record),
      receivedAt,
    )
    return { ...item, receivedAt, verified: true, state: 'unread' }
  }

  list(q: InboxQuery): { items: InboxItem[]; cursor?: string } {
    const where = ['id > ?']
    const args: (string | number)[] = [q.cursor ?? 0]
    if (q.collection) {
      where.push('collection = ?')
      args.push(q.collection)
    }
    if (q.unreadOnly) where.push('read = 0')
    const rows = this.sql
      .exec<Row>(`SELECT * FROM inbox WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, ...args, q.limit)
      .toArray()
    const items = rows.map(
      (r): InboxItem => ({
        uri: r.uri,
        cid: r.cid,
        collection: r.collection,
        sender: r.sender,
        record: JSON.parse(r.record),
        receivedAt: r.received_at,
        verified: true,
        state: r.read ? 'read' : 'unread',
      }),
    )
    return rows.length === q.limit ? { items, cursor: String(rows.at(-1)!.id) } : { items }
  }

  /** Mark items read; returns how many changed. */
  ack(uris: string[]): number {
    let n = 0
    for (const uri of uris)
      n += this.sql.exec('UPDATE inbox SET read = 1 WHERE uri = ? AND read = 0', uri).rowsWritten
    return n
  }
}
