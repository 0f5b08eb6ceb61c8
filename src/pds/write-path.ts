/**
 * The one write path. Every change to an agent's repo (create, put, delete,
 * applyWrites, and later messages and memories) comes through `commitWrites`:
 * validate → apply to the MST → sign → ONE SQLite transaction storing blocks,
 * the record index, the new head and the outbox event → only then advance the
 * in-memory repo.
 */
import { cidToString } from '../atproto/cid.ts'
import { AtprotoError } from '../atproto/errors.ts'
import { type CommitResult, commitSliceCar, type Repo, type RepoWrite } from '../atproto/repo/index.ts'
import { isNsid, isRecordKey, type TidClock } from '../atproto/syntax/index.ts'
import { COMMS_PREFIX } from '../comms/recipients.ts'
import { invalidRequest, XrpcError } from '../http/xrpc.ts'
import { isOwnCollection, lexicons } from '../lexicons.ts'
import { indexMemoryOp } from '../memory/index-rows.ts'
import { MEMORY_PREFIX } from '../memory/memory-text.ts'
import { commitEvent, queueEvent, syncEvent } from './events.ts'
import type { SqlBlockStore } from './sql-block-store.ts'

export interface WriteOp {
  action: 'create' | 'update' | 'delete'
  collection: string
  /** Omitted on create: a TID is minted. */
  rkey?: string
  record?: Record<string, unknown>
  /** Expected current record CID; null means "must not exist". Undefined: no check. */
  swapRecord?: string | null
}

export interface WriteOptions {
  /** atproto `validate`: true requires a known lexicon, false skips, undefined validates when known. */
  validate?: boolean
  /** Expected current commit CID. */
  swapCommit?: string
  /** Internal callers (repo import) may commit more than XRPC's 200 writes at once. */
  maxWrites?: number
  /**
   * How the firehose hears of the commit: a `#commit` with its ops (the
   * default), or a `#sync` (internal callers: a repo import resets the repo,
   * and its ops may be far more than a `#commit` may carry).
   */
  announce?: 'commit' | 'sync'
}

export interface WriteResult {
  uri: string
  cid?: string
  validationStatus?: 'valid' | 'unknown'
}

export interface CommitSummary {
  commit: { cid: string; rev: string }
  results: WriteResult[]
}

export interface WriteContext {
  did: string
  repo: Repo
  sql: SqlStorage
  store: SqlBlockStore
  clock: TidClock
  transactionSync: <T>(fn: () => T) => T
}

const MAX_WRITES = 200
/** The largest record a commit may carry, as its DAG-CBOR block. */
export const MAX_RECORD_BYTES = 1024 * 1024

/** Check and normalise the writes against the repo's current state and our lexicons. */
function prepareWrites(ctx: WriteContext, ops: WriteOp[], opts: WriteOptions): [RepoWrite[], WriteResult[]] {
  if (ops.length === 0) throw invalidRequest('No writes given')
  const max = opts.maxWrites ?? MAX_WRITES
  if (ops.length > max) throw invalidRequest(`At most ${max} writes per commit`)
  if (opts.swapCommit !== undefined && opts.swapCommit !== cidToString(ctx.repo.cid))
    throw new XrpcError(400, 'InvalidSwap', `Commit was at ${cidToString(ctx.repo.cid)}`)
  const writes: RepoWrite[] = []
  const results: WriteResult[] = []
  for (const op of ops) {
    if (!isNsid(op.collection)) throw invalidRequest(`Invalid collection: ${op.collection}`)
    const rkey = op.rkey ?? ctx.clock.next()
    if (!isRecordKey(rkey)) throw invalidRequest(`Invalid record key: ${rkey}`)
    const current = ctx.repo.getRecordCid(op.collection, rkey)
    if (op.swapRecord !== undefined) {
      const actual = current ? cidToString(current) : null
      if (actual !== op.swapRecord)
        throw new XrpcError(400, 'InvalidSwap', `Record was at ${actual ?? 'nothing'}`)
    }
    const uri = `at://${ctx.did}/${op.collection}/${rkey}`
    if (op.action === 'delete') {
      if (!current) throw invalidRequest(`Could not find record: ${uri}`)
      writes.push({ action: 'delete', collection: op.collection, rkey })
      results.push({ uri })
      continue
    }
    const record = withType(op.record, op.collection)
    const validationStatus = validate(op.collection, rkey, record, opts.validate)
    // Recipients see the repo's DID as the sender; a record may not claim another.
    if (op.collection.startsWith(COMMS_PREFIX) && record.sender !== ctx.did)
      throw invalidRequest(`Invalid ${op.collection} record: sender must be the repo's DID, ${ctx.did}`)
    if (op.action === 'create' && current) throw invalidRequest(`Record already exists: ${uri}`)
    writes.push({ action: current ? 'update' : 'create', collection: op.collection, rkey, record })
    results.push({ uri, validationStatus })
  }
  return [writes, results]
}

function withType(record: unknown, collection: string): Record<string, unknown> {
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    throw invalidRequest('record must be an object')
  const r = record as Record<string, unknown>
  if (r.$type === undefined) return { ...r, $type: collection }
  if (r.$type !== collection)
    throw invalidRequest(`record $type ${String(r.$type)} does not match ${collection}`)
  return r
}

function validate(collection: string, rkey: string, record: unknown, mode: boolean | undefined) {
  const known = lexicons.has(collection)
  if (isOwnCollection(collection) || mode === true) {
    if (!known) throw invalidRequest(`Lexicon not found: ${collection}`)
  } else if (mode === false || !known) {
    return 'unknown' as const
  }
  try {
    lexicons.validateRecord(collection, record, rkey)
  } catch (err) {
    // Name the collection, as the reference PDS does: the path alone (`record/content/text`)
    // does not say which lexicon a batch write broke.
    if (err instanceof AtprotoError && err.code === 'InvalidRecord')
      throw invalidRequest(`Invalid ${collection} record: ${err.message}`)
    throw err
  }
  return 'valid' as const
}

/** The commit's firehose event, as `announce` asks. */
function announcement(did: string, result: CommitResult, announce: WriteOptions['announce']) {
  if (announce === 'sync') return { kind: 'sync' as const, event: syncEvent(did, result) }
  return { kind: 'commit' as const, event: commitEvent(did, { ...result, blocks: commitSliceCar(result) }) }
}

/** Store a prepared commit in one transaction. Nothing in memory changes here. */
function storeCommit(
  ctx: WriteContext,
  result: CommitResult,
  records: Map<string, Record<string, unknown>>,
  announce: WriteOptions['announce'],
): void {
  const { sql, store } = ctx
  store.rev = result.rev
  for (const [cid, bytes] of result.newBlocks) store.put(cid, bytes)
  for (const op of result.ops) {
    const slash = op.path.indexOf('/')
    const collection = op.path.slice(0, slash)
    const rkey = op.path.slice(slash + 1)
    if (op.cid === null) sql.exec('DELETE FROM records WHERE collection = ? AND rkey = ?', collection, rkey)
    else
      sql.exec(
        'INSERT OR REPLACE INTO records (collection, rkey, cid, rev) VALUES (?, ?, ?, ?)',
        collection,
        rkey,
        cidToString(op.cid),
        result.rev,
      )
    // The memory index follows the repo in the same transaction (src/memory/index-rows.ts).
    if (collection.startsWith(MEMORY_PREFIX))
      indexMemoryOp(sql, ctx.did, {
        collection,
        rkey,
        cid: op.cid ? cidToString(op.cid) : null,
        record: records.get(op.path),
      })
  }
  // Unreachable blocks go, except record blocks another key still points at.
  for (const cid of result.removedCids)
    if (sql.exec('SELECT 1 FROM records WHERE cid = ? LIMIT 1', cid).toArray().length === 0) store.delete(cid)
  sql.exec('UPDATE agent SET root_cid = ?, rev = ? WHERE id = 1', cidToString(result.cid), result.rev)
  const { kind, event } = announcement(ctx.did, result, announce)
  queueEvent(sql, kind, result.rev, event)
}

/** The one write path. Callers serialise calls per agent. */
export async function commitWrites(
  ctx: WriteContext,
  ops: WriteOp[],
  opts: WriteOptions = {},
): Promise<CommitSummary> {
  const [writes, results] = prepareWrites(ctx, ops, opts)
  const result = await ctx.repo.prepare(writes)
  // Checked on the encoded block, so it holds for every path in (XRPC writes, applyWrites, imports).
  for (const op of result.ops) {
    const size = op.cid ? (result.newBlocks.get(cidToString(op.cid))?.length ?? 0) : 0
    if (size > MAX_RECORD_BYTES)
      throw new XrpcError(
        413,
        'PayloadTooLarge',
        `Record ${op.path} is ${size} bytes; at most ${MAX_RECORD_BYTES}`,
      )
  }
  const records = new Map<string, Record<string, unknown>>()
  for (const w of writes)
    if (w.action !== 'delete') records.set(`${w.collection}/${w.rkey}`, w.record as Record<string, unknown>)
  ctx.transactionSync(() => storeCommit(ctx, result, records, opts.announce))
  ctx.repo.advance(result)
  for (const [i, op] of result.ops.entries()) if (op.cid) results[i]!.cid = cidToString(op.cid)
  return { commit: { cid: cidToString(result.cid), rev: result.rev }, results }
}
