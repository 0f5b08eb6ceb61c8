/**
 * agent.memory.searchNetwork finds what agents shared, across agents, and
 * answers with uris and scores; forgetting or unsharing takes it back. A
 * change of embedding model re-embeds the index instead of mixing vectors.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { OFFLINE_MODEL_ID } from '../../src/memory/embedder.ts'
import type { AgentDO } from '../../src/pds/agent-do.ts'
import { createAgent, xrpc } from './helpers.ts'
import { note, remember, search } from './memory-helpers.ts'

async function searchNetwork(token: string, q: string) {
  const res = await xrpc('agent.memory.searchNetwork', { token, params: { q } })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.results as { uri: string; cid: string; score: number }[]
}

describe('agent.memory.searchNetwork', () => {
  it('finds shared memories of other agents, and only those', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const shared = await remember(
      a,
      note('The GPU cluster is reserved for training jobs on weekends.', { shared: true }),
    )
    const secret = await remember(a, note('The GPU cluster admin password is on the wiki.'))
    const hits = await searchNetwork(
      b.accessJwt,
      'when can I use the graphics card machines for model training?',
    )
    expect(hits[0]).toMatchObject({ uri: shared.uri, cid: shared.cid })
    expect(hits.map((h) => h.uri)).not.toContain(secret.uri)
    expect(Object.keys(hits[0]!).sort()).toEqual(['cid', 'score', 'uri'])

    // Unsharing (an update) and forgetting (a delete) both take it back.
    const rkey = shared.uri.split('/').pop()!
    const put = await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.memory.note',
        rkey,
        record: note('The GPU cluster is reserved for training jobs on weekends.'),
      },
    })
    expect(put.status).toBe(200)
    await search(a, 'gpu') // a search embeds and publishes what waits
    expect((await searchNetwork(b.accessJwt, 'GPU cluster weekends')).map((h) => h.uri)).not.toContain(
      shared.uri,
    )

    const again = await remember(a, note('Weekend GPU cluster use is for training only.', { shared: true }))
    expect((await searchNetwork(b.accessJwt, 'GPU cluster weekends')).map((h) => h.uri)).toContain(again.uri)
    await xrpc('agent.memory.forget', { token: a.accessJwt, body: { uri: again.uri } })
    expect((await searchNetwork(b.accessJwt, 'GPU cluster weekends')).map((h) => h.uri)).not.toContain(
      again.uri,
    )
  })

  it('needs a caller', async () => {
    const res = await xrpc('agent.memory.searchNetwork', { params: { q: 'x' } })
    expect(res.status).toBe(401)
  })

  it('re-embeds everything when the model changes, never mixing vectors', async () => {
    const a = await createAgent()
    const n = await remember(a, note('Invoices are sent on the first business day of each month.'))
    const stub = env.AGENTS.get(env.AGENTS.idFromName(a.did))
    // Pretend the index was built by another model.
    await runInDurableObject(stub, (o: AgentDO) => {
      const sql = (o as unknown as { ctx: DurableObjectState }).ctx.storage.sql
      sql.exec("UPDATE memory_index SET model = 'some-older-model'")
      sql.exec("UPDATE memory_settings SET value = 'some-older-model' WHERE key = 'model'")
    })
    const hits = await search(a, 'when do we bill customers?')
    expect(hits[0]?.uri).toBe(n.uri)
    const models = await runInDurableObject(stub, (o: AgentDO) => {
      const sql = (o as unknown as { ctx: DurableObjectState }).ctx.storage.sql
      return sql.exec<{ model: string }>('SELECT DISTINCT model FROM memory_index').toArray()
    })
    expect(models.map((m) => m.model)).toEqual([OFFLINE_MODEL_ID])
  })
})
