/**
 * An embedding service that cannot be reached loses nothing: remember still
 * commits, search still answers (keyword, recency, weight), the rows wait, and
 * once the service is back they get their vectors and are found by meaning.
 * The "down" service is a real HTTP client pointed at a closed loopback port.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { HttpEmbedder, OFFLINE_MODEL_ID } from '../../src/memory/embedder.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { createAgent, xrpc } from './helpers.ts'
import { note, remember, search } from './memory-helpers.ts'

type Swappable = { embedder: unknown; index: unknown; indexer: unknown }

describe('memory with the embedder down', () => {
  it('commits, answers by keyword, and catches up when the service returns', async () => {
    const a = await createAgent()
    const stub = env.AGENTS.get(env.AGENTS.idFromName(a.did))
    const working = await runInDurableObject(
      stub,
      (o: AgentDO) => (o.memories as unknown as Swappable).embedder,
    )
    const swap = (embedder: unknown) =>
      runInDurableObject(stub, (o: AgentDO) => {
        const m = o.memories as unknown as Swappable
        Object.assign(m, { embedder, index: null, indexer: null })
      })

    await swap(new HttpEmbedder({ url: 'http://127.0.0.1:1/v1', model: OFFLINE_MODEL_ID, timeoutMs: 2000 }))
    const n = await remember(a, note('The office plants get watered every Monday morning.'))
    const status = await xrpc('agent.memory.getIndexStatus', { token: a.accessJwt })
    expect(status.body).toMatchObject({ records: 1, pending: 1 })
    // Keyword still finds it; a paraphrase with no shared word cannot, yet.
    expect((await search(a, 'plants watered')).map((h) => h.uri)).toEqual([n.uri])

    await swap(working)
    expect((await search(a, 'who looks after the greenery at work?'))[0]?.uri).toBe(n.uri)
    const after = await xrpc('agent.memory.getIndexStatus', { token: a.accessJwt })
    expect(after.body).toMatchObject({ records: 1, pending: 0 })
  }, 60_000)
})
