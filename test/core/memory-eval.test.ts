/**
 * Retrieval quality of the offline embedding model on the memory evaluation set
 * (test/memory-eval.ts): pure cosine ranking, scored by recall@5, recall@1 and MRR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EmbedServer, startEmbedServer } from '../../src/memory/embed-server.ts'
import { cosine, type Embedder, HttpEmbedder, OFFLINE_MODEL_ID } from '../../src/memory/embedder.ts'
import { type EvalQuery, evalMemoryText, MEMORY_EVAL, MEMORY_EVAL_STRICT_QUERIES } from '../memory-eval.ts'

let server: EmbedServer
beforeAll(async () => {
  server = await startEmbedServer({ port: 0 })
})
afterAll(() => server?.close())

interface Score {
  recall5: number
  recall1: number
  mrr: number
  misses: string[]
}

/** Ranks every memory by cosine similarity to each question. */
async function score(
  embedder: Embedder,
  memoryVectors: Float32Array[],
  queries: EvalQuery[],
): Promise<Score> {
  const { memories } = MEMORY_EVAL
  const questions = await embedder.embed(queries.map((q) => q.q))
  let hits5 = 0
  let hits1 = 0
  let rr = 0
  const misses: string[] = []
  for (const [i, { q, expect: want }] of queries.entries()) {
    const ranked = memories
      .map((m, j) => ({ id: m.id, score: cosine(questions[i]!, memoryVectors[j]!) }))
      .sort((a, b) => b.score - a.score)
    const rank = ranked.findIndex((r) => want.includes(r.id)) + 1
    if (rank <= 5) hits5++
    if (rank === 1) hits1++
    rr += 1 / rank
    if (rank > 5) {
      const top = ranked.slice(0, 3).map((r) => r.id)
      misses.push(`  #${rank} "${q}" → ${want.join(',')} (top 3: ${top.join(', ')})`)
    }
  }
  const n = queries.length
  return { recall5: hits5 / n, recall1: hits1 / n, mrr: rr / n, misses }
}

const line = (name: string, n: number, s: Score) =>
  `${name} (${n} queries): recall@5 ${s.recall5.toFixed(3)}, recall@1 ${s.recall1.toFixed(3)}, MRR ${s.mrr.toFixed(3)}` +
  (s.misses.length ? `; missed:\n${s.misses.join('\n')}` : '')

describe('memory evaluation set', () => {
  it('is large enough and its records are well formed', () => {
    const { memories, queries } = MEMORY_EVAL
    expect(memories.length).toBeGreaterThanOrEqual(48)
    expect(queries.length).toBeGreaterThanOrEqual(24)
    expect(MEMORY_EVAL_STRICT_QUERIES).toHaveLength(queries.length)
    const ids = new Set(memories.map((m) => m.id))
    expect(ids.size).toBe(memories.length)
    for (const q of [...queries, ...MEMORY_EVAL_STRICT_QUERIES])
      for (const id of q.expect) expect(ids.has(id), `${q.q} → ${id}`).toBe(true)
    for (const { collection, record: r } of memories) {
      expect(Number.isNaN(Date.parse(r.createdAt as string))).toBe(false)
      if (collection === 'agent.memory.note') {
        expect(typeof r.text).toBe('string')
        expect(Number.isInteger(r.importance)).toBe(true)
        expect(r.importance).toBeGreaterThanOrEqual(1)
        expect(r.importance).toBeLessThanOrEqual(5)
      } else if (collection === 'agent.memory.fact') {
        for (const k of ['subject', 'predicate', 'object']) expect(typeof r[k]).toBe('string')
        expect(Number.isInteger(r.confidence)).toBe(true)
        expect(r.confidence).toBeGreaterThanOrEqual(0)
        expect(r.confidence).toBeLessThanOrEqual(1000)
      } else {
        expect(typeof r.decision).toBe('string')
        expect(['proposed', 'accepted', 'rejected', 'superseded']).toContain(r.status)
      }
    }
  })

  it('the offline model finds a right memory in the top 5 for at least 80% of paraphrased questions', async () => {
    const embedder = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    const { memories, queries } = MEMORY_EVAL
    const t0 = performance.now()
    const vectors = await embedder.embed(memories.map(evalMemoryText))
    const main = await score(embedder, vectors, queries)
    const ms = performance.now() - t0
    const strict = await score(embedder, vectors, MEMORY_EVAL_STRICT_QUERIES)
    console.log(
      `memory eval, ${OFFLINE_MODEL_ID}, pure cosine over ${memories.length} memories ` +
        `(${memories.length + queries.length} texts embedded in ${ms.toFixed(0)} ms, model load included)\n` +
        `${line('paraphrases', queries.length, main)}\n` +
        `${line('strict paraphrases, not held to a bar', MEMORY_EVAL_STRICT_QUERIES.length, strict)}`,
    )
    expect(main.recall5).toBeGreaterThanOrEqual(0.8)
  })
})
