/**
 * The sequencer: the one place that orders the network. It de-duplicates
 * incoming events, assigns each a global, gap-free, strictly increasing seq,
 * encodes its frame once and stores it, all in one transaction per batch. It
 * also prunes the log to its retention window. It knows nothing of sockets:
 * the fan-out (fanout.ts) reads what it stored.
 */
import { decodeCbor } from '../atproto/cbor.ts'
import { isDid, isTid } from '../atproto/syntax/index.ts'
import type { EventLog, NewEvent, StoredEvent } from './event-log.ts'
import { isEventKind, sequencedFrame } from './frames.ts'
import { packJetItems, renderJetstream } from './jetstream.ts'

/** One event as an agent's outbox hands it over: the body is DAG-CBOR without seq. */
export interface IngestEvent {
  did: string
  rev: string
  kind: string
  body: Uint8Array
}

export interface IngestAck {
  did: string
  rev: string
  kind: string
  /** The seq it was given; null when it had been sequenced before (a re-send). */
  seq: number | null
}

export interface IngestResult {
  acked: IngestAck[]
  rejected: { did: string; rev: string; kind: string; reason: string }[]
}

export interface Retention {
  maxAgeMs: number
  maxEvents: number
}

export const MAX_INGEST_BATCH = 1000
const PRUNE_CHUNK = 1000
/** High-water marks kept in memory (a lookup per event otherwise); past this the cache starts over. */
const MAX_CACHED_MARKS = 100_000

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value)
  return value && Number.isFinite(n) && n > 0 ? n : fallback
}

export function retentionFrom(env: {
  MURMUR_RELAY_RETENTION_HOURS?: string
  MURMUR_RELAY_MAX_EVENTS?: string
}): Retention {
  return {
    maxAgeMs: positive(env.MURMUR_RELAY_RETENTION_HOURS, 72) * 3_600_000,
    maxEvents: Math.floor(positive(env.MURMUR_RELAY_MAX_EVENTS, 1_000_000)),
  }
}

/** Why an event cannot be sequenced, or null when it is well formed. */
function problem(e: IngestEvent): string | null {
  if (!isDid(e.did)) return 'did is not a DID'
  if (!isTid(e.rev)) return 'rev is not a TID'
  if (!isEventKind(e.kind)) return `unknown kind ${e.kind}`
  return null
}

function decodeBody(e: IngestEvent): Record<string, unknown> | string {
  let body: unknown
  try {
    body = decodeCbor(e.body)
  } catch {
    return 'body is not DAG-CBOR'
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not a map'
  const b = body as Record<string, unknown>
  if (e.kind === 'commit' && (b.repo !== e.did || b.rev !== e.rev)) return 'body does not match did and rev'
  // A #sync names its repo `did`, not `repo`; its rev is the new commit's, which consumers resync from.
  if (e.kind === 'sync' && (b.did !== e.did || b.rev !== e.rev)) return 'body does not match did and rev'
  return b
}

/** The event's Jetstream messages, packed; a commit whose CAR slice cannot be read gets none. */
function jetstreamOf(e: IngestEvent, seq: number, timeUs: number, body: Record<string, unknown>): string {
  try {
    return packJetItems(renderJetstream(e.kind, e.did, seq, timeUs, body))
  } catch (err) {
    console.error('relay: no Jetstream rendering for', e.did, e.rev, String(err))
    return ''
  }
}

export class Sequencer {
  /** `${kind} ${did}` → last rev sequenced: a read-through cache of the log's marks (we are their only writer). */
  private readonly marks = new Map<string, string>()
  private lastSeq: number
  private lastTime: number
  private lastTimeUs: number

  constructor(
    private readonly log: EventLog,
    private readonly transactionSync: <T>(fn: () => T) => T,
    readonly retention: Retention,
  ) {
    ;({ lastSeq: this.lastSeq, lastTime: this.lastTime, lastTimeUs: this.lastTimeUs } = log.state())
  }

  /** The newest seq handed out (0 before the first event). */
  head(): number {
    return this.lastSeq
  }

  /** The newest event's unix-µs time (Jetstream's clock). */
  headTimeUs(): number {
    return this.lastTimeUs
  }

  /**
   * Sequence a batch. Events at or below their repo's high-water mark (same
   * DID and kind, rev not newer) are re-sends: acknowledged, not stored again.
   * A malformed event is rejected, and so is everything after it from the
   * same repo, so that a later rev never overtakes it.
   */
  ingest(events: IngestEvent[], now = Date.now()): IngestResult & { stored: StoredEvent[] } {
    if (events.length > MAX_INGEST_BATCH) throw new RangeError(`at most ${MAX_INGEST_BATCH} events per batch`)
    const acked: IngestAck[] = []
    const rejected: IngestResult['rejected'] = []
    const fresh: NewEvent[] = []
    const blocked = new Set<string>()
    const marks = new Map<string, string | undefined>()
    let seq = this.lastSeq
    const time = Math.max(now, this.lastTime)
    let timeUs = this.lastTimeUs
    for (const e of events) {
      const key = `${e.kind} ${e.did}`
      const why = blocked.has(key) ? 'an earlier event from this repo was rejected' : problem(e)
      const mark = why ? undefined : marks.has(key) ? marks.get(key) : this.mark(key, e.did, e.kind)
      if (!why && mark !== undefined && e.rev <= mark) {
        acked.push({ did: e.did, rev: e.rev, kind: e.kind, seq: null })
        continue
      }
      const body = why ? why : decodeBody(e)
      if (typeof body === 'string') {
        blocked.add(key)
        rejected.push({ did: e.did, rev: e.rev, kind: e.kind, reason: body })
        continue
      }
      seq += 1
      marks.set(key, e.rev)
      timeUs = Math.max(time * 1000, timeUs + 1)
      const frame = sequencedFrame(e.kind as Parameters<typeof sequencedFrame>[0], seq, body)
      const jet = jetstreamOf(e, seq, timeUs, body)
      fresh.push({ seq, did: e.did, kind: e.kind, rev: e.rev, time, timeUs, frame, jet })
      acked.push({ did: e.did, rev: e.rev, kind: e.kind, seq })
    }
    if (fresh.length > 0) {
      this.transactionSync(() => {
        for (const e of fresh) this.log.append(e)
        for (const [key, rev] of marks) {
          const space = key.indexOf(' ')
          this.log.setLastRev(key.slice(space + 1), key.slice(0, space), rev!)
        }
        this.log.setState({ lastSeq: seq, lastTime: time, lastTimeUs: timeUs })
      })
      this.lastSeq = seq
      this.lastTime = time
      this.lastTimeUs = timeUs
      // Only once the transaction has committed: the cache never runs ahead of the log.
      if (this.marks.size + marks.size > MAX_CACHED_MARKS) this.marks.clear()
      for (const [key, rev] of marks) this.marks.set(key, rev!)
    }
    return { acked, rejected, stored: fresh }
  }

  private mark(key: string, did: string, kind: string): string | undefined {
    const cached = this.marks.get(key)
    if (cached !== undefined) return cached
    const rev = this.log.lastRev(did, kind)
    if (rev !== undefined && this.marks.size < MAX_CACHED_MARKS) this.marks.set(key, rev)
    return rev
  }

  /**
   * Prune up to `maxChunks` chunks from the front of the log. Returns how many
   * events went and whether more are due now.
   */
  prune(now = Date.now(), maxChunks = 1): { deleted: number; more: boolean } {
    const beforeTime = now - this.retention.maxAgeMs
    const keepFromSeq = this.lastSeq - this.retention.maxEvents + 1
    let deleted = 0
    for (let i = 0; i < maxChunks; i++) {
      const n = this.log.pruneChunk(beforeTime, keepFromSeq, PRUNE_CHUNK)
      deleted += n
      if (n < PRUNE_CHUNK) return { deleted, more: false }
    }
    return { deleted, more: true }
  }

  /** When the oldest retained event falls out of the time window (null: the log is empty). */
  nextExpiry(): number | null {
    const oldest = this.log.oldest()
    return oldest ? oldest.time + this.retention.maxAgeMs : null
  }

  /** How many events the log holds (seq is gap-free and pruning only takes a prefix). */
  size(): number {
    const oldest = this.log.oldest()
    return oldest ? this.lastSeq - oldest.seq + 1 : 0
  }
}
