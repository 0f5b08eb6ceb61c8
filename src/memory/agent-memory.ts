/**
 * An agent's memory, inside its AgentDO: remember, search, get, forget,
 * rebuild the index, and retention. Records are written through the agent's
 * one write path (lent by the AgentDO); the index follows the commits
 * (index-rows.ts) and gets its vectors from the embedder (indexer.ts).
 */
import { encodeCbor } from '../atproto/cbor.ts'
import { cidForCbor, cidToString } from '../atproto/cid.ts'
import type { Env } from '../env.ts'
import { invalidRequest, XrpcError } from '../http/xrpc.ts'
import type { RecordView } from '../pds/agent-reads.ts'
import type { CommitSummary, WriteOp } from '../pds/write-path.ts'
import { type Embedder, embedderFor } from './embedder.ts'
import { clearMemoryIndex, indexMemoryOp } from './index-rows.ts'
import { MemoryIndexer } from './indexer.ts'
import {
  FACT,
  factRkey,
  factTopicKey,
  INDEXED,
  MEMORY_PREFIX,
  NOTE,
  PROFILE,
  SUMMARY,
} from './memory-text.ts'
import { publishShared } from './network-publish.ts'
import { dueNotes, nextDueAt, type RetentionPolicy, readPolicy, writePolicy } from './retention.ts'
import { AGENT_INDEX } from './schema.ts'
import { type SearchQuery, searchMemory } from './search.ts'
import { extractiveSummarizer, type NoteForSummary, type Summarizer } from './summarize.ts'
import { LocalVectorIndex, type VectorIndex, VectorizeIndex } from './vector-index.ts'

export const MEMORY_COLLECTIONS = [...INDEXED, PROFILE] as const

/** What the AgentDO lends its memory. */
export interface MemoryHost {
  readonly ctx: DurableObjectState
  readonly env: Env
  readonly sql: SqlStorage
  exclusive<T>(fn: () => Promise<T>): Promise<T>
  did(): Promise<string>
  /** Commit through the one write path (call under `exclusive`). */
  commit(ops: WriteOp[]): Promise<CommitSummary>
  record(collection: string, rkey: string): RecordView | null
}

/** One call into an agent's memory (the AgentDO's single memory entry point). */
export type MemoryCall =
  | { op: 'remember'; record: Record<string, unknown> }
  | { op: 'search'; query: SearchQuery }
  | { op: 'get'; collection: string; rkey: string }
  | { op: 'forget'; collection: string; rkey: string }
  | { op: 'reindex' }
  | { op: 'status' }
  /** Read the note policy; set it (`policy`); run up to `run` steps. */
  | { op: 'retention'; policy?: RetentionPolicy; run?: number }

/** Calls that change the repo: the agent must be active. */
export const isMemoryWrite = (call: MemoryCall) =>
  call.op === 'remember' || call.op === 'forget' || (call.op === 'retention' && call.run !== undefined)

export interface MemoryResult {
  uri: string
  cid: string
  score: number
  value: unknown
}

/** Records rebuilt into the index per transaction: short steps, so no request waits long behind one. */
const REBUILD_CHUNK = 500
/** How many waiting rows a search embeds before it answers (the rest follow in the background). */
const SEARCH_DRAIN = 256
/** Rows a remember or forget embeds before it answers. */
const WRITE_DRAIN = 256
/** Rows one alarm embeds before it re-arms: a long backlog is worked off in short runs. */
const ALARM_DRAIN = 1024

type Rec = Record<string, unknown>

export class AgentMemory {
  readonly embedder: Embedder | null
  private index: VectorIndex | null = null
  private indexer: MemoryIndexer | null = null
  private summarizer: Summarizer = extractiveSummarizer

  constructor(private readonly host: MemoryHost) {
    this.embedder = embedderFor(host.env)
  }

  private async vectors(): Promise<{ index: VectorIndex; indexer: MemoryIndexer } | null> {
    if (!this.embedder) return null
    if (!this.index || !this.indexer) {
      const { env, sql, ctx } = this.host
      this.index = env.VECTORIZE
        ? new VectorizeIndex(env.VECTORIZE, await this.host.did(), this.embedder.model)
        : new LocalVectorIndex(sql, AGENT_INDEX, this.embedder.model)
      this.indexer = new MemoryIndexer(
        sql,
        (fn) => ctx.storage.transactionSync(fn),
        this.embedder,
        this.index,
      )
    }
    return { index: this.index, indexer: this.indexer }
  }

  async call(call: MemoryCall): Promise<unknown> {
    switch (call.op) {
      case 'remember':
        return this.remember(call.record)
      case 'search':
        return { results: await this.search(call.query) }
      case 'get':
        return this.get(call.collection, call.rkey)
      case 'forget':
        return this.forget(call.collection, call.rkey)
      case 'reindex':
        return this.reindex()
      case 'status':
        return this.status()
      case 'retention':
        if (call.policy) return { policy: await this.setPolicy(call.policy) }
        if (call.run !== undefined) return this.runRetention(call.run)
        return { policy: this.policy() }
    }
  }

  // ── writes ────────────────────────────────────────────────────────────────

  /** Write one memory record. A fact is keyed by its content; one that contradicts current facts supersedes them. */
  async remember(record: Rec): Promise<{ uri: string; cid: string }> {
    const collection = record.$type
    if (typeof collection !== 'string' || !(MEMORY_COLLECTIONS as readonly string[]).includes(collection))
      throw invalidRequest(`record.$type must be one of ${MEMORY_COLLECTIONS.join(', ')}`)
    const now = new Date().toISOString()
    const value: Rec = collection === PROFILE ? { ...record } : { createdAt: now, ...record }
    const summary = await this.host.exclusive(async () => {
      if (collection === FACT) return this.host.commit(this.factWrites(value, now))
      const rkey = collection === PROFILE ? 'self' : undefined
      return this.host.commit([{ action: rkey ? 'update' : 'create', collection, rkey, record: value }])
    })
    const written = summary.results.find((r) => r.uri.includes(`/${collection}/`)) ?? summary.results[0]!
    await this.afterWrite(collection === NOTE)
    return { uri: written.uri, cid: written.cid! }
  }

  private factWrites(fact: Rec, now: string): WriteOp[] {
    const [s, p, o] = [fact.subject, fact.predicate, fact.object]
    if (typeof s !== 'string' || typeof p !== 'string' || typeof o !== 'string')
      throw invalidRequest('A fact needs subject, predicate and object strings')
    const rkey = factRkey(s, p, o)
    const existing = this.host.record(FACT, rkey)
    const ops: WriteOp[] = []
    const record: Rec = { ...fact }
    // The same fact again: the record is updated, and keeps when it was first known.
    if (existing) {
      const old = existing.value as Rec
      if (typeof old.createdAt === 'string') record.createdAt = old.createdAt
      if (record.validFrom === undefined && typeof old.validFrom === 'string')
        record.validFrom = old.validFrom
    }
    // Facts on the same subject and predicate that still hold stop holding now.
    const current = this.host.sql
      .exec<{ rkey: string }>(
        `SELECT rkey FROM memory_index WHERE collection = ? AND fact_key = ? AND rkey != ?
         AND valid_until IS NULL ORDER BY created_at DESC`,
        FACT,
        factTopicKey(s, p),
        rkey,
      )
      .toArray()
    for (const { rkey: oldKey } of current) {
      const old = this.host.record(FACT, oldKey)
      if (!old) continue
      const ended: Rec = { ...(old.value as Rec), validUntil: now }
      ops.push({ action: 'update', collection: FACT, rkey: oldKey, record: ended })
      // The new fact cites the old one as this same commit leaves it.
      if (record.supersedes === undefined)
        record.supersedes = { uri: old.uri, cid: cidToString(cidForCbor(encodeCbor(ended))) }
    }
    ops.unshift({ action: existing ? 'update' : 'create', collection: FACT, rkey, record })
    return ops
  }

  /** Delete a memory: a delete commit, which takes it out of the index in the same transaction. */
  async forget(collection: string, rkey: string): Promise<{ uri: string }> {
    this.get(collection, rkey)
    const summary = await this.host.exclusive(() =>
      this.host.commit([{ action: 'delete', collection, rkey }]),
    )
    await this.afterWrite(false)
    return { uri: summary.results[0]!.uri }
  }

  get(collection: string, rkey: string): RecordView {
    assertMemoryCollection(collection)
    const view = this.host.record(collection, rkey)
    if (!view) throw new XrpcError(400, 'RecordNotFound', `Could not locate record: ${collection}/${rkey}`)
    return view
  }

  /** After a commit: vectors for what changed, the network index told, retention checked. */
  private async afterWrite(noteAdded: boolean): Promise<void> {
    // Its own vector, and a bounded share of any backlog (a large import, say); the alarm does the rest.
    if ((await this.drain(WRITE_DRAIN)) && this.pending() > 0) await this.armAlarm(Date.now())
    if (noteAdded) await this.scheduleRetention()
  }

  /**
   * Embed what waits (all of it, or `max` rows) and tell the network index.
   * False when the embedder failed: the alarm retries in 30 s.
   */
  async drain(max?: number): Promise<boolean> {
    const v = await this.vectors()
    if (!v) return true
    try {
      await v.indexer.drain(max)
      await publishShared(this.host.env, this.host.sql, await this.host.did(), this.embedder!.model)
      return true
    } catch (err) {
      console.error(`memory index: ${err instanceof Error ? err.message : String(err)}; retrying in 30 s`)
      await this.armAlarm(Date.now() + 30_000)
      return false
    }
  }

  // ── search ───────────────────────────────────────────────────────────────

  async search(query: SearchQuery): Promise<MemoryResult[]> {
    for (const c of query.collections ?? [])
      if (!INDEXED.includes(c)) throw invalidRequest(`${c} is not searchable`)
    await this.drain(SEARCH_DRAIN)
    const v = await this.vectors()
    let found: Awaited<ReturnType<typeof searchMemory>>
    try {
      found = await searchMemory(this.host.sql, AGENT_INDEX, this.embedder, v?.index ?? null, query)
    } catch (err) {
      // The embedder is down: keyword, recency and weight still answer.
      console.error(`memory search: ${err instanceof Error ? err.message : String(err)}; keyword only`)
      found = await searchMemory(this.host.sql, AGENT_INDEX, null, null, query)
    }
    if (v?.index instanceof LocalVectorIndex) for (const id of found.dropped) v.index.drop(id)
    const did = await this.host.did()
    return found.hits.flatMap((h) => {
      const view = this.host.record(h.collection, h.rkey)
      return view
        ? [{ uri: `at://${did}/${h.collection}/${h.rkey}`, cid: view.cid, score: h.score, value: view.value }]
        : []
    })
  }

  // ── rebuild ──────────────────────────────────────────────────────────────

  /** Rebuild the index from the repo: the records are the truth, the index a view of them. */
  async reindex(): Promise<{ records: number; pending: number }> {
    const { sql, ctx } = this.host
    const did = await this.host.did()
    ctx.storage.transactionSync(() => clearMemoryIndex(sql, did))
    await this.index?.clear()
    let records = 0
    let after = ['', '']
    for (;;) {
      // Writes between chunks keep the index up to date themselves (index-rows.ts).
      const chunk = sql
        .exec<{ collection: string; rkey: string }>(
          `SELECT collection, rkey FROM records WHERE collection IN (${INDEXED.map(() => '?').join(', ')})
           AND (collection, rkey) > (?, ?) ORDER BY collection, rkey LIMIT ?`,
          ...INDEXED,
          after[0]!,
          after[1]!,
          REBUILD_CHUNK,
        )
        .toArray()
      if (chunk.length === 0) break
      ctx.storage.transactionSync(() => {
        for (const { collection, rkey } of chunk) {
          const view = this.host.record(collection, rkey)
          if (view) indexMemoryOp(sql, did, { collection, rkey, cid: view.cid, record: view.value as Rec })
        }
      })
      records += chunk.length
      after = [chunk.at(-1)!.collection, chunk.at(-1)!.rkey]
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    // Vectors follow in the alarm, a bounded batch at a time: a large repo is not embedded inside this request.
    await this.armAlarm(Date.now())
    return { records, pending: this.pending() }
  }

  // ── retention ────────────────────────────────────────────────────────────

  policy(): RetentionPolicy {
    return readPolicy(this.host.sql)
  }

  async setPolicy(policy: RetentionPolicy): Promise<RetentionPolicy> {
    writePolicy(this.host.sql, policy)
    await this.scheduleRetention()
    return policy
  }

  /**
   * One retention step: the next due chunk of notes becomes one summary, in
   * one commit with the notes' deletes. Returns what it did, or null when
   * nothing is due.
   */
  async retentionStep(now = Date.now()): Promise<{ summary: string; rolled: number } | null> {
    const result = await this.host.exclusive(async () => {
      const due = dueNotes(this.host.sql, this.policy(), now)
      if (due.length === 0) return null
      const notes = due.flatMap((d) => {
        const view = this.host.record(NOTE, d.rkey)
        return view ? [{ d, view, value: view.value as Rec }] : []
      })
      const forSummary: NoteForSummary[] = notes.map(({ d, value }) => ({
        text: typeof value.text === 'string' ? value.text : '',
        importance: typeof value.importance === 'number' ? value.importance : 3,
        createdAt: d.createdAt,
        tags: Array.isArray(value.tags) ? value.tags.filter((t): t is string => typeof t === 'string') : [],
      }))
      const summary: Rec = {
        $type: SUMMARY,
        text: await this.summarizer.summarize(forSummary),
        covers: {
          collection: NOTE,
          from: notes[0]!.d.rkey,
          to: notes.at(-1)!.d.rkey,
          count: notes.length,
          refs: notes.map(({ view }) => ({ uri: view.uri, cid: view.cid })),
        },
        createdAt: new Date(now).toISOString(),
      }
      const ops: WriteOp[] = [
        { action: 'create', collection: SUMMARY, record: summary },
        ...notes.map(({ d }) => ({ action: 'delete' as const, collection: NOTE, rkey: d.rkey })),
      ]
      const commit = await this.host.commit(ops)
      return { summary: commit.results[0]!.uri, rolled: notes.length }
    })
    if (result) await this.drain()
    return result
  }

  /** Run steps until nothing is due or `maxSteps` ran; each step is short and complete in itself. */
  async runRetention(
    maxSteps: number,
    now = Date.now(),
  ): Promise<{ steps: number; rolled: number; done: boolean }> {
    let rolled = 0
    for (let steps = 0; steps < maxSteps; steps++) {
      const step = await this.retentionStep(now)
      if (!step) return { steps, rolled, done: true }
      rolled += step.rolled
    }
    return { steps: maxSteps, rolled, done: dueNotes(this.host.sql, this.policy(), now).length === 0 }
  }

  /** Arm the alarm for the next retention work: now if something is due, else when the oldest note ages out. */
  private async scheduleRetention(): Promise<void> {
    const now = Date.now()
    const policy = this.policy()
    if (dueNotes(this.host.sql, policy, now).length > 0) return this.armAlarm(now + 1_000)
    const at = nextDueAt(this.host.sql, policy)
    if (at !== null) await this.armAlarm(at)
  }

  /** The alarm's share: finish indexing, and a few retention steps (each one commit). */
  async alarm(): Promise<void> {
    const indexed = await this.drain(ALARM_DRAIN)
    const { done } = await this.runRetention(5)
    // More to do: straight away (requests still interleave between batches). A failed embedder set its own retry.
    if (!done || (indexed && this.pending() > 0)) await this.armAlarm(Date.now())
    else await this.scheduleRetention()
  }

  /** Index rows still waiting for a vector (0 without an embedder: they never will). */
  pending(): number {
    if (!this.embedder) return 0
    return this.host.sql
      .exec<{ n: number }>('SELECT count(*) AS n FROM memory_index WHERE model IS NULL')
      .one().n
  }

  /** How the index stands: rows, rows waiting for a vector, and the model. */
  status(): { records: number; pending: number; model: string | null } {
    const records = this.host.sql.exec<{ n: number }>('SELECT count(*) AS n FROM memory_index').one().n
    return { records, pending: this.pending(), model: this.embedder?.model ?? null }
  }

  /** Alarms are shared with the outbox: only ever bring the next one earlier. */
  private async armAlarm(at: number): Promise<void> {
    const storage = this.host.ctx.storage
    const current = await storage.getAlarm()
    if (current === null || current > at) await storage.setAlarm(at)
  }
}

function assertMemoryCollection(collection: string): void {
  if (
    !collection.startsWith(MEMORY_PREFIX) ||
    !(MEMORY_COLLECTIONS as readonly string[]).includes(collection)
  )
    throw invalidRequest(`${collection} is not a memory collection`)
}
