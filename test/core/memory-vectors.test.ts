/**
 * The local vector index's parts (int8 quantization, the exact int8 scan, top-k,
 * the cache with filters and compaction), the hybrid score, and the Vectorize
 * adapter's contract with its binding (Vectorize has no local version: the
 * binding here records calls, as the real one would receive them).
 */
import { describe, expect, it } from 'vitest'
import { hybridScore, keywordQuery, RECENCY_HALF_LIFE_MS } from '../../src/memory/ranking.ts'
import { VectorCache } from '../../src/memory/vector-cache.ts'
import { type VectorizeBinding, VectorizeIndex } from '../../src/memory/vector-index.ts'
import { dot, quantize, topK } from '../../src/memory/vectors.ts'

function seeded(seed: number) {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x7fffffff - 0.5
  }
}

function unit(rand: () => number, dims: number): Float32Array {
  const v = Float32Array.from({ length: dims }, rand)
  const n = Math.sqrt(dot(v, v))
  return v.map((x) => x / n)
}

describe('int8 scan', () => {
  it('finds the same nearest neighbours as exact float32 after re-ranking', () => {
    const rand = seeded(7)
    const dims = 512
    const rows = Array.from({ length: 3000 }, () => unit(rand, dims))
    const cache = new VectorCache()
    for (const [id, v] of rows.entries()) cache.put({ id, collection: 'c', createdAt: 0, q: quantize(v) })
    for (let k = 0; k < 20; k++) {
      // A query near a stored row, as a paraphrase is near its answer.
      const base = rows[(k * 97) % rows.length]!
      const noise = unit(rand, dims)
      const q = unit(() => 0, dims).map((_, i) => base[i]! + 0.6 * noise[i]!)
      const query = q.map((x) => x / Math.sqrt(dot(q, q)))
      const exact = rows
        .map((v, id) => ({ id, s: dot(query, v) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, 10)
        .map((r) => r.id)
      const candidates = cache.nearest(query, 50).map((n) => n.id)
      const reranked = candidates
        .map((id) => ({ id, s: dot(query, rows[id]!) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, 10)
        .map((r) => r.id)
      expect(reranked).toEqual(exact)
    }
  })

  it('filters by collection and time, drops and compacts', () => {
    const rand = seeded(3)
    const cache = new VectorCache()
    for (let id = 0; id < 3000; id++)
      cache.put({ id, collection: id % 2 ? 'odd' : 'even', createdAt: id, q: quantize(unit(rand, 16)) })
    const q = unit(rand, 16)
    expect(cache.nearest(q, 3000, { collections: ['odd'] }).every((n) => n.id % 2 === 1)).toBe(true)
    expect(
      cache
        .nearest(q, 3000, { since: 2990 })
        .map((n) => n.id)
        .sort(),
    ).toEqual([2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999])
    for (let id = 0; id < 2500; id++) cache.drop(id)
    expect(cache.count).toBe(500)
    const left = cache.nearest(q, 3000).map((n) => n.id)
    expect(left).toHaveLength(500)
    expect(Math.min(...left)).toBe(2500)
  })

  it('topK returns the best scores in order', () => {
    const scores = Float32Array.from([0.1, 0.9, Number.NEGATIVE_INFINITY, 0.5, 0.7])
    expect(topK(scores, scores.length, 3)).toEqual([1, 4, 3])
    expect(topK(scores, scores.length, 10)).toEqual([1, 4, 3, 0])
  })
})

describe('hybrid score', () => {
  const now = Date.UTC(2026, 10, 24)
  const base = { semantic: 0.5, keyword: 0, createdAt: now, weight: 0.5, superseded: false }
  it('ranks by meaning first, then keyword, recency and weight', () => {
    expect(hybridScore({ ...base, semantic: 0.6 }, now)).toBeGreaterThan(
      hybridScore({ ...base, keyword: 0.5 }, now),
    )
    expect(hybridScore({ ...base, keyword: 1 }, now)).toBeGreaterThan(hybridScore(base, now))
    const monthOld = hybridScore({ ...base, createdAt: now - RECENCY_HALF_LIFE_MS }, now)
    expect(monthOld).toBeLessThan(hybridScore(base, now))
    expect(hybridScore({ ...base, weight: 1 }, now)).toBeGreaterThan(hybridScore(base, now))
    expect(hybridScore({ ...base, superseded: true }, now)).toBeLessThan(hybridScore(base, now))
  })

  it('quotes every word of a keyword query, so no input is FTS syntax', () => {
    expect(keywordQuery('why did the "release" break? NEAR(a b) OR *')).toBe(
      '"release" OR "break" OR "near" OR "b"',
    )
    expect(keywordQuery('the of and')).toBeNull()
  })
})

describe('VectorizeIndex', () => {
  it('namespaces by agent, keys by model and row, and ignores other models', async () => {
    const calls: unknown[] = []
    const binding: VectorizeBinding = {
      upsert: async (v) => calls.push(['upsert', v]),
      deleteByIds: async (ids) => calls.push(['delete', ids]),
      query: async (vector, options) => {
        calls.push(['query', vector.length, options])
        return {
          matches: [
            { id: 'm1:7', score: 0.9 },
            { id: 'old:3', score: 0.8 },
            { id: 'm1:2', score: 0.5 },
          ],
        }
      },
    }
    const index = new VectorizeIndex(binding, 'did:cf:abc', 'm1')
    await index.put([
      { id: 7, collection: 'agent.memory.note', createdAt: 5, vector: Float32Array.from([1, 0]) },
    ])
    expect(calls[0]).toEqual([
      'upsert',
      [
        {
          id: 'm1:7',
          values: [1, 0],
          namespace: 'did:cf:abc',
          metadata: { collection: 'agent.memory.note', createdAt: 5 },
        },
      ],
    ])
    const found = await index.nearest(Float32Array.from([1, 0]), 10, {
      collections: ['agent.memory.fact'],
      since: 9,
    })
    expect(found).toEqual([
      { id: 7, score: 0.9 },
      { id: 2, score: 0.5 },
    ])
    expect(calls[1]).toEqual([
      'query',
      2,
      {
        topK: 10,
        namespace: 'did:cf:abc',
        filter: { collection: { $in: ['agent.memory.fact'] }, createdAt: { $gte: 9 } },
      },
    ])
  })
})
