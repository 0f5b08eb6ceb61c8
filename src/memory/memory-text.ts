/**
 * What the index knows of a memory record: the text it embeds and matches,
 * a weight in [0, 1] (importance, confidence, status), when it was made, and
 * for facts the key of their subject and predicate. Pure functions.
 */
import { sha256 } from '../atproto/sha256.ts'

export const MEMORY_PREFIX = 'agent.memory.'
export const FACT = 'agent.memory.fact'
export const NOTE = 'agent.memory.note'
export const DECISION = 'agent.memory.decision'
export const SUMMARY = 'agent.memory.summary'
export const PROFILE = 'agent.memory.profile'

/** The collections the search index holds (the profile is pinned context, not a memory). */
export const INDEXED: readonly string[] = [FACT, NOTE, DECISION, SUMMARY]
export const isIndexed = (collection: string) => INDEXED.includes(collection)

/** Text sent to the embedder is cut here: the model reads a sentence or a paragraph, not a book. */
export const EMBED_CHARS = 2000

export interface IndexedFields {
  text: string
  weight: number
  createdAt: number
  shared: boolean
  /** Facts: the key of subject|predicate, so a contradicting object can be found. */
  factKey: string | null
  /** Facts: when it stopped holding (ms), if it has. */
  validUntil: number | null
}

type Rec = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : '')
const time = (v: unknown, fallback: number) => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN
  return Number.isFinite(t) ? t : fallback
}

export function memoryText(collection: string, r: Rec): string {
  switch (collection) {
    case FACT:
      return [str(r.subject), str(r.predicate), str(r.object)].join(' ')
    case NOTE: {
      const tags = Array.isArray(r.tags) ? r.tags.filter((t) => typeof t === 'string').join(' ') : ''
      return [str(r.text), tags].filter(Boolean).join('\n')
    }
    case DECISION: {
      const options = Array.isArray(r.options) ? r.options.filter((o) => typeof o === 'string') : []
      return [str(r.decision), str(r.context), str(r.rationale), ...options].filter(Boolean).join('\n')
    }
    default:
      return str(r.text)
  }
}

const DECISION_WEIGHT: Record<string, number> = {
  accepted: 0.8,
  proposed: 0.6,
  rejected: 0.4,
  superseded: 0.3,
}

export function memoryWeight(collection: string, r: Rec): number {
  switch (collection) {
    case NOTE:
      return typeof r.importance === 'number' ? (r.importance - 1) / 4 : 0.5
    case FACT:
      return typeof r.confidence === 'number' ? r.confidence / 1000 : 0.8
    case DECISION:
      return DECISION_WEIGHT[str(r.status)] ?? 0.5
    default:
      return 0.6
  }
}

export function indexedFields(collection: string, r: Rec, now: number): IndexedFields {
  const isFact = collection === FACT
  return {
    text: memoryText(collection, r),
    weight: Math.min(1, Math.max(0, memoryWeight(collection, r))),
    createdAt: time(r.createdAt, now),
    shared: r.shared === true,
    factKey: isFact ? factTopicKey(str(r.subject), str(r.predicate)) : null,
    validUntil: isFact && typeof r.validUntil === 'string' ? time(r.validUntil, now) : null,
  }
}

// ── fact keys ────────────────────────────────────────────────────────────────

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/** Case and spacing do not make a different fact. */
const canon = (s: string) => s.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase()

function hashKey(parts: string[]): string {
  return base32(sha256(new TextEncoder().encode(parts.map(canon).join('\u0000'))).subarray(0, 16))
}

/** The record key of a fact: the same subject|predicate|object is always the same record. */
export function factRkey(subject: string, predicate: string, object: string): string {
  return `f${hashKey([subject, predicate, object])}`
}

/** What a contradicting fact shares with the one it supersedes. */
export function factTopicKey(subject: string, predicate: string): string {
  return hashKey([subject, predicate])
}
