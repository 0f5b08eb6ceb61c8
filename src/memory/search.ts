/**
 * agent.memory.search inside one agent: candidates from the vector index and
 * from the keyword index, re-read from the index rows (which follow the repo
 * exactly), scored by ranking.ts. Exact cosine re-ranks the vector
 * candidates when the vectors are local.
 */
import type { Embedder } from './embedder.ts'
import { FACT } from './memory-text.ts'
import { hybridScore, keywordMatch, keywordWords } from './ranking.ts'
import type { IndexTables } from './schema.ts'
import type { VectorIndex } from './vector-index.ts'
import { bytesVector, dot } from './vectors.ts'

export interface SearchQuery {
  q: string
  collections?: readonly string[]
  limit: number
  /** ms since the epoch: only memories made since. */
  since?: number
}

export interface SearchHit {
  /** The owning agent, in the network index. */
  owner: string | null
  collection: string
  rkey: string
  cid: string
  score: number
}

interface Row {
  id: number
  owner: string | null
  collection: string
  rkey: string
  cid: string
  weight: number
  created_at: number
  valid_until: number | null
  model: string | null
  vector: ArrayBuffer | null
}

/** Enough vector candidates that re-ranking with keyword, recency and weight can reorder the top. */
const candidates = (limit: number) => Math.max(50, limit * 5)

function filterSql(q: SearchQuery): [string, SqlStorageValue[]] {
  const parts: string[] = []
  const args: SqlStorageValue[] = []
  if (q.collections?.length) {
    parts.push(`m.collection IN (${q.collections.map(() => '?').join(', ')})`)
    args.push(...q.collections)
  }
  if (q.since !== undefined) {
    parts.push('m.created_at >= ?')
    args.push(q.since)
  }
  return [parts.map((p) => ` AND ${p}`).join(''), args]
}

/** A word in more than this share of the memories says little, and ranking its matches costs the most. */
const COMMON_SHARE = 0.1

/**
 * The query words rare enough to be worth ranking on: bm25 scores every
 * document a word matches, so a word in a tenth of 100,000 memories would cost
 * more than the whole vector scan while adding almost nothing (its IDF is low).
 */
function informativeWords(sql: SqlStorage, tables: IndexTables, words: string[]): string[] {
  if (words.length === 0) return words
  const total = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${tables.rows}`).one().n
  const limit = Math.max(100, total * COMMON_SHARE)
  if (total <= limit) return words
  return words.filter(
    (w) =>
      sql
        .exec<{ n: number }>(
          `SELECT count(*) AS n FROM (SELECT 1 FROM ${tables.fts} WHERE ${tables.fts} MATCH ? LIMIT ?)`,
          `"${w}"`,
          Math.ceil(limit) + 1,
        )
        .one().n <= limit,
  )
}

export async function searchMemory(
  sql: SqlStorage,
  tables: IndexTables,
  embedder: Embedder | null,
  index: VectorIndex | null,
  query: SearchQuery,
  now = Date.now(),
): Promise<{ hits: SearchHit[]; dropped: number[] }> {
  const queryVector = embedder && index ? (await embedder.embed([query.q]))[0]! : null
  const neighbours = queryVector
    ? await index!.nearest(queryVector, candidates(query.limit), {
        collections: query.collections,
        since: query.since,
      })
    : []
  const semanticIds = neighbours.map((n) => n.id)
  const approx = new Map(neighbours.map((n) => [n.id, n.score]))

  const keyword = new Map<number, number>()
  const match = keywordMatch(informativeWords(sql, tables, keywordWords(query.q)))
  if (match) {
    const [where, args] = filterSql(query)
    const rows = sql
      .exec<{ id: number; rank: number }>(
        `SELECT m.id AS id, bm25(${tables.fts}) AS rank FROM ${tables.fts} JOIN ${tables.rows} m ON m.id = ${tables.fts}.rowid
         WHERE ${tables.fts} MATCH ?${where} ORDER BY rank LIMIT ?`,
        match,
        ...args,
        candidates(query.limit),
      )
      .toArray()
    // bm25 is negative, lower is better; scale to [0, 1] against this query's best.
    const best = Math.max(...rows.map((r) => -r.rank), Number.MIN_VALUE)
    for (const r of rows) keyword.set(r.id, Math.max(0, -r.rank) / best)
  }

  const ids = [...new Set([...semanticIds, ...keyword.keys()])]
  if (ids.length === 0) return { hits: [], dropped: [] }
  const rows = new Map<number, Row>()
  // Bound the IN list: SQLite allows 100 bound parameters per statement in Durable Objects.
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90)
    for (const r of sql.exec<Row & Record<string, SqlStorageValue>>(
      `SELECT id, ${tables.owner} AS owner, collection, rkey, cid, weight, created_at, valid_until, model, vector
       FROM ${tables.rows} WHERE id IN (${chunk.map(() => '?').join(', ')})`,
      ...chunk,
    ))
      rows.set(r.id, r)
  }
  const dropped = semanticIds.filter((id) => !rows.has(id))
  const hits: SearchHit[] = []
  for (const id of ids) {
    const r = rows.get(id)
    if (!r) continue
    let semantic: number | null = null
    if (queryVector && embedder && r.model === embedder.model) {
      // Local vectors re-rank exactly; Vectorize keeps its vectors, so its score stands.
      if (r.vector) semantic = dot(queryVector, bytesVector(r.vector))
      else semantic = approx.get(id) ?? null
    }
    const score = hybridScore(
      {
        semantic,
        keyword: keyword.get(id) ?? 0,
        createdAt: r.created_at,
        weight: r.weight,
        superseded: r.collection === FACT && r.valid_until !== null && r.valid_until <= now,
      },
      now,
    )
    hits.push({ owner: r.owner, collection: r.collection, rkey: r.rkey, cid: r.cid, score })
  }
  hits.sort((a, b) => b.score - a.score)
  return { hits: hits.slice(0, query.limit), dropped }
}
