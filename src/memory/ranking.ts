/**
 * Hybrid ranking: semantic similarity first, then keyword match, recency and
 * weight (importance, confidence, status). Pure functions.
 */

export const WEIGHTS = { semantic: 0.8, keyword: 0.1, recency: 0.05, weight: 0.05 } as const
/** A memory loses half its recency credit every 30 days. */
export const RECENCY_HALF_LIFE_MS = 30 * 24 * 3600 * 1000
/** A fact that has stopped holding still answers, below the one that replaced it. */
export const SUPERSEDED_FACTOR = 0.85

export interface Signals {
  /** Cosine similarity with the query, or null when there is no vector to compare. */
  semantic: number | null
  /** Keyword match in [0, 1] relative to the best match of this query. */
  keyword: number
  createdAt: number
  weight: number
  superseded: boolean
}

export function hybridScore(s: Signals, now: number): number {
  const age = Math.max(0, now - s.createdAt)
  const recency = 0.5 ** (age / RECENCY_HALF_LIFE_MS)
  const score =
    WEIGHTS.semantic * Math.max(0, s.semantic ?? 0) +
    WEIGHTS.keyword * s.keyword +
    WEIGHTS.recency * recency +
    WEIGHTS.weight * s.weight
  return s.superseded ? score * SUPERSEDED_FACTOR : score
}

const STOPWORDS = new Set(
  'a an and are as at be but by for from has have how i in is it its of on or that the this to was were what when where which who why will with you your we our did do does'.split(
    ' ',
  ),
)

/** The words of a free-text query worth matching: lower-cased, deduplicated, no stop words, at most 32. */
export function keywordWords(q: string): string[] {
  return [
    ...new Set((q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOPWORDS.has(w))),
  ].slice(0, 32)
}

/** A safe FTS5 query: each word quoted (no operator or syntax error can come from the user's text), any may match. */
export function keywordMatch(words: readonly string[]): string | null {
  return words.length ? words.map((w) => `"${w}"`).join(' OR ') : null
}

export const keywordQuery = (q: string) => keywordMatch(keywordWords(q))
