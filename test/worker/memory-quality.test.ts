/**
 * Retrieval quality through agent.memory.search itself (hybrid ranking over the
 * offline model), on the evaluation set of test/memory-eval.ts: recall@5 must
 * reach 0.8. The strict wording of the same questions is scored and printed.
 */
import { describe, expect, it } from 'vitest'
import { type EvalQuery, MEMORY_EVAL, MEMORY_EVAL_STRICT_QUERIES } from '../memory-eval.ts'
import { createAgent } from './helpers.ts'
import { type Agent, remember, search } from './memory-helpers.ts'

async function recall(agent: Agent, ids: Map<string, string>, queries: EvalQuery[]) {
  let hits5 = 0
  let hits1 = 0
  let rr = 0
  const misses: string[] = []
  for (const { q, expect: want } of queries) {
    const uris = (await search(agent, q, { limit: '10' })).map((h) => ids.get(h.uri))
    const rank = uris.findIndex((id) => id !== undefined && want.includes(id)) + 1
    if (rank >= 1 && rank <= 5) hits5++
    if (rank === 1) hits1++
    if (rank >= 1) rr += 1 / rank
    else misses.push(`"${q}" → ${want.join(',')}`)
    if (rank > 5) misses.push(`#${rank} "${q}" → ${want.join(',')}`)
  }
  const n = queries.length
  return { recall5: hits5 / n, recall1: hits1 / n, mrr: rr / n, misses }
}

describe('memory search quality (offline model, hybrid ranking)', () => {
  it('reaches recall@5 ≥ 0.8 on paraphrased questions', async () => {
    const agent = await createAgent()
    const ids = new Map<string, string>()
    for (const m of MEMORY_EVAL.memories) {
      const { uri } = await remember(agent, { $type: m.collection, ...m.record })
      ids.set(uri, m.id)
    }
    const main = await recall(agent, ids, MEMORY_EVAL.queries)
    const strict = await recall(agent, ids, MEMORY_EVAL_STRICT_QUERIES)
    for (const [name, s, n] of [
      ['questions', main, MEMORY_EVAL.queries.length],
      ['strict wording', strict, MEMORY_EVAL_STRICT_QUERIES.length],
    ] as const)
      console.log(
        `memory search, ${name} (${n}): recall@5 ${s.recall5.toFixed(3)}, recall@1 ${s.recall1.toFixed(3)}, MRR ${s.mrr.toFixed(3)}` +
          (s.misses.length ? `\n  missed: ${s.misses.join('\n  missed: ')}` : ''),
      )
    expect(main.recall5).toBeGreaterThanOrEqual(0.8)
  }, 120_000)
})
