/**
 * Reads of an agent's repo: the record index (getRecord, listRecords), CAR
 * exports (whole, since a rev), block fetches and record proofs.
 */

import { type CarBlockBytes, carBytes, carChunks } from '../atproto/car.ts'
import { decodeCbor, toPlainJson } from '../atproto/cbor.ts'
import { type Cid, cidToString, parseCid } from '../atproto/cid.ts'
import { type Repo, repoBlocks } from '../atproto/repo/index.ts'
import { invalidRequest, XrpcError } from '../http/xrpc.ts'
import type { SqlBlockStore } from './sql-block-store.ts'

export interface RecordView {
  uri: string
  cid: string
  value: unknown
}

export class AgentReads {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: SqlBlockStore,
  ) {}

  private value(cid: string): unknown {
    const bytes = this.store.get(cid)
    if (!bytes) throw new XrpcError(500, 'InternalServerError', 'Record block missing')
    // Records cross the Durable Object RPC boundary, which cannot clone @atcute's wrapper classes
    // (a blob's `ref` decodes to one).
    return toPlainJson(decodeCbor(bytes))
  }

  getRecord(did: string, collection: string, rkey: string, wantCid?: string): RecordView {
    const view = this.findRecord(did, collection, rkey)
    if (!view || (wantCid !== undefined && view.cid !== wantCid))
      throw new XrpcError(400, 'RecordNotFound', `Could not locate record: at://${did}/${collection}/${rkey}`)
    return view
  }

  /** The record at collection/rkey, or null. */
  findRecord(did: string, collection: string, rkey: string): RecordView | null {
    const row = this.sql
      .exec<{ cid: string }>('SELECT cid FROM records WHERE collection = ? AND rkey = ?', collection, rkey)
      .toArray()[0]
    return row ? { uri: `at://${did}/${collection}/${rkey}`, cid: row.cid, value: this.value(row.cid) } : null
  }

  /** A page of one collection in rkey order (or reverse), after `cursor` (an rkey). */
  listRecords(
    did: string,
    collection: string,
    opts: { limit: number; cursor?: string; reverse?: boolean },
  ): { records: RecordView[]; cursor?: string } {
    const rows = opts.reverse
      ? this.sql.exec<{ rkey: string; cid: string }>(
          'SELECT rkey, cid FROM records WHERE collection = ? AND rkey > ? ORDER BY rkey ASC LIMIT ?',
          collection,
          opts.cursor ?? '',
          opts.limit,
        )
      : this.sql.exec<{ rkey: string; cid: string }>(
          'SELECT rkey, cid FROM records WHERE collection = ? AND rkey < ? ORDER BY rkey DESC LIMIT ?',
          collection,
          opts.cursor ?? '\u{10ffff}',
          opts.limit,
        )
    const records = rows
      .toArray()
      .map((r) => ({ uri: `at://${did}/${collection}/${r.rkey}`, cid: r.cid, value: this.value(r.cid) }))
    const last = records.at(-1)
    return {
      records,
      ...(records.length === opts.limit && last
        ? { cursor: last.uri.slice(last.uri.lastIndexOf('/') + 1) }
        : {}),
    }
  }

  /** Every record path (`collection/rkey`) in the index. */
  paths(): string[] {
    return this.sql
      .exec<{ p: string }>("SELECT collection || '/' || rkey AS p FROM records")
      .toArray()
      .map((r) => r.p)
  }

  collections(): string[] {
    return this.sql
      .exec<{ collection: string }>('SELECT DISTINCT collection FROM records ORDER BY collection')
      .toArray()
      .map((r) => r.collection)
  }

  /** Whole repo (walked from the root), or the commit plus blocks written after rev `since`. */
  exportCar(head: Cid, since?: string): ReadableStream<Uint8Array> {
    const blocks = since === undefined ? repoBlocks(this.store, head) : this.blocksSince(head, since)
    const chunks = carChunks([head], blocks)
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await chunks.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
    })
  }

  private *blocksSince(head: Cid, since: string): Generator<CarBlockBytes> {
    const headKey = cidToString(head)
    yield { cid: head.bytes, bytes: this.store.get(headKey)! }
    const rows = this.sql.exec<{ cid: string; bytes: ArrayBuffer }>(
      'SELECT cid, bytes FROM blocks WHERE rev > ? ORDER BY rev',
      since,
    )
    for (const r of rows)
      if (r.cid !== headKey) yield { cid: parseCid(r.cid).bytes, bytes: new Uint8Array(r.bytes) }
  }

  /** A CAR of the requested blocks; any missing block is an error naming it. */
  blocksCar(head: Cid, cids: string[]): Uint8Array {
    const blocks: CarBlockBytes[] = []
    for (const c of cids) {
      const cid = parseCid(c)
      const bytes = this.store.get(cidToString(cid))
      if (!bytes) throw invalidRequest(`Block not found: ${c}`)
      blocks.push({ cid: cid.bytes, bytes })
    }
    return carBytes([head], blocks)
  }

  /** Commit + MST path + record (if present): proves the record's presence or absence. */
  recordProofCar(repo: Repo, collection: string, rkey: string): Uint8Array {
    const key = `${collection}/${rkey}`
    const proof = repo.mst.coveringProof(key)
    const blocks: CarBlockBytes[] = [{ cid: repo.cid.bytes, bytes: this.store.get(cidToString(repo.cid))! }]
    for (const [cid, bytes] of proof) blocks.push({ cid: parseCid(cid).bytes, bytes })
    const recordCid = repo.mst.get(key)
    if (recordCid) blocks.push({ cid: recordCid.bytes, bytes: this.store.get(cidToString(recordCid))! })
    return carBytes([repo.cid], blocks)
  }
}
