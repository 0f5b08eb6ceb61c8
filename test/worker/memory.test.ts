/**
 * agent.memory.*: remember, search, get, forget; facts keyed by content and
 * superseded by contradictions; the index rebuilt from the repo answers the same.
 */
import { describe, expect, it } from 'vitest'
import { ADMIN, createAgent, xrpc } from './helpers.ts'
import { type Agent, fact, note, remember, search } from './memory-helpers.ts'

async function listRecords(agent: Agent, collection: string) {
  const res = await xrpc('com.atproto.repo.listRecords', { params: { repo: agent.did, collection } })
  expect(res.status).toBe(200)
  return res.body.records as { uri: string; cid: string; value: Record<string, unknown> }[]
}

describe('agent.memory', () => {
  it('remembers a note, gets it, and finds it by meaning', async () => {
    const a = await createAgent()
    const n = await remember(
      a,
      note('The staging deploy failed because the database volume ran out of disk space.', { importance: 4 }),
    )
    await remember(a, note('Lunch on Fridays is pizza with the whole team.'))
    expect(n.uri).toMatch(new RegExp(`^at://${a.did}/agent.memory.note/`))
    const got = await xrpc('agent.memory.get', { token: a.accessJwt, params: { uri: n.uri } })
    expect(got.status).toBe(200)
    expect(got.body).toMatchObject({ uri: n.uri, cid: n.cid, value: { importance: 4 } })
    const hits = await search(a, 'why did the release break?')
    expect(hits[0]?.uri).toBe(n.uri)
    expect(hits[0]?.score).toBeGreaterThan(hits[1]?.score ?? 0)
  })

  it('keys a fact by its content: the same fact twice is one record, updated', async () => {
    const a = await createAgent()
    const one = await remember(a, fact('Alice', 'works on', 'billing', { confidence: 600 }))
    const two = await remember(a, fact('alice', 'works  on', 'Billing', { confidence: 900 }))
    expect(two.uri).toBe(one.uri)
    expect(two.cid).not.toBe(one.cid)
    const facts = await listRecords(a, 'agent.memory.fact')
    expect(facts).toHaveLength(1)
    expect(facts[0]!.value.confidence).toBe(900)
  })

  it('supersedes a contradicted fact, keeping it queryable with validUntil', async () => {
    const a = await createAgent()
    const tea = await remember(a, fact('Alice', 'prefers to drink', 'tea'))
    const coffee = await remember(a, fact('Alice', 'prefers to drink', 'coffee'))
    const facts = await listRecords(a, 'agent.memory.fact')
    expect(facts).toHaveLength(2)
    const old = facts.find((f) => f.uri === tea.uri)!
    const now = facts.find((f) => f.uri === coffee.uri)!
    expect(typeof old.value.validUntil).toBe('string')
    expect(now.value.validUntil).toBeUndefined()
    expect(now.value.supersedes).toEqual({ uri: tea.uri, cid: old.cid })
    const hits = await search(a, 'what beverage does Alice like?')
    expect(hits.map((h) => h.uri).slice(0, 2)).toEqual([coffee.uri, tea.uri])
    // A third fact supersedes the current one only.
    const water = await remember(a, fact('Alice', 'prefers to drink', 'water'))
    const after = await listRecords(a, 'agent.memory.fact')
    expect(after.find((f) => f.uri === water.uri)!.value.supersedes).toMatchObject({ uri: coffee.uri })
    expect(after.find((f) => f.uri === tea.uri)!.value.validUntil).toBe(old.value.validUntil)
  })

  it('forgets: a delete commit, gone from search and from the repo', async () => {
    const a = await createAgent()
    const n = await remember(a, note('The vault password rotates every ninety days.'))
    expect((await search(a, 'vault password rotation')).map((h) => h.uri)).toContain(n.uri)
    const res = await xrpc('agent.memory.forget', { token: a.accessJwt, body: { uri: n.uri } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect((await search(a, 'vault password rotation')).map((h) => h.uri)).not.toContain(n.uri)
    expect(await listRecords(a, 'agent.memory.note')).toHaveLength(0)
    const got = await xrpc('agent.memory.get', { token: a.accessJwt, params: { uri: n.uri } })
    expect(got.status).toBe(400)
    expect(got.body.error).toBe('RecordNotFound')
  })

  it('indexes memories written through createRecord too, and reindex answers the same', async () => {
    const a = await createAgent()
    const created = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.memory.note',
        record: note('Backups run nightly at two in the morning.'),
      },
    })
    expect(created.status).toBe(200)
    for (const t of [
      'The mobile app crashes on Android 12 when the camera permission is denied.',
      'Carol leads the search relevance project.',
      'We ship releases every second Tuesday.',
    ])
      await remember(a, note(t))
    await remember(a, {
      $type: 'agent.memory.decision',
      decision: 'Use SQLite in each agent object for vectors',
      status: 'accepted',
      rationale: 'No network hop on search',
      createdAt: new Date().toISOString(),
    })
    const queries = [
      'when are backups taken?',
      'phone application failure',
      'who runs ranking work?',
      'where do embeddings live?',
    ]
    const before = await Promise.all(queries.map((q) => search(a, q)))
    expect(before[0]![0]!.uri).toBe(created.body.uri)
    const res = await xrpc('agent.admin.reindex', { token: ADMIN, body: { did: a.did } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.records).toBe(5)
    expect(res.body.pending).toBeGreaterThanOrEqual(0)
    const after = await Promise.all(queries.map((q) => search(a, q)))
    for (const [i, hits] of after.entries()) {
      expect(hits.map((h) => h.uri)).toEqual(before[i]!.map((h) => h.uri))
      for (const [j, h] of hits.entries()) expect(h.score).toBeCloseTo(before[i]![j]!.score, 4)
    }
    const status = await xrpc('agent.memory.getIndexStatus', { token: a.accessJwt })
    expect(status.body).toEqual({ records: 5, pending: 0, model: 'use-lite-512' })
  })

  it('keeps indexing when a memory has nothing to embed', async () => {
    const a = await createAgent()
    await remember(a, note(''))
    await remember(a, note('   \n\t  '))
    const n = await remember(a, note('The quarterly board meeting moved to Thursday afternoon.'))
    expect((await search(a, 'when do the directors get together?'))[0]?.uri).toBe(n.uri)
    const status = await xrpc('agent.memory.getIndexStatus', { token: a.accessJwt })
    expect(status.body).toMatchObject({ records: 3, pending: 0 })
  })

  it('filters by collection and time, and limits', async () => {
    const a = await createAgent()
    await remember(a, note('Deploys are blocked on Fridays.'))
    const f = await remember(a, fact('deploys', 'are blocked on', 'Fridays'))
    const only = await search(a, 'friday deploys', { collections: 'agent.memory.fact' })
    expect(only.map((h) => h.uri)).toEqual([f.uri])
    expect(await search(a, 'friday deploys', { since: '2999-01-01T00:00:00Z' })).toEqual([])
    expect(await search(a, 'friday deploys', { limit: '1' })).toHaveLength(1)
  })

  it('refuses bad input with a clear 4xx and writes nothing', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const bad = async (method: string, opts: Parameters<typeof xrpc>[1], status = 400) => {
      const res = await xrpc(method, opts)
      expect(res.status, `${method} ${JSON.stringify(res.body)}`).toBe(status)
      expect(typeof res.body.message).toBe('string')
      return res.body
    }
    const t = a.accessJwt
    await bad('agent.memory.remember', {
      token: t,
      body: { record: { $type: 'agent.comms.message', text: 'x' } },
    })
    await bad('agent.memory.remember', {
      token: t,
      body: { record: fact('a', 'b', 'c', { confidence: 2000 }) },
    })
    await bad('agent.memory.remember', { token: t, body: { record: note('x', { importance: 9 }) } })
    await bad('agent.memory.remember', { token: t, body: { record: 'not an object' } })
    await bad('agent.memory.remember', { token: t, raw: '{"record":', type: 'application/json' })
    await bad('agent.memory.remember', { body: { record: note('x') } }, 401)
    await bad('agent.memory.remember', { token: t, body: { repo: b.did, record: note('x') } }, 403)
    await bad('agent.memory.search', { token: t, params: {} })
    await bad('agent.memory.search', { token: t, params: { q: 'x', collections: 'agent.memory.profile' } })
    await bad('agent.memory.search', { token: t, params: { q: 'x', limit: '0' } })
    await bad('agent.memory.search', { token: t, params: { q: 'x', since: 'yesterday' } })
    await bad('agent.memory.search', { token: t, params: { q: 'x'.repeat(1001) } })
    await bad('agent.memory.get', { token: t, params: { uri: 'not-a-uri' } })
    const theirs = await remember(b, note('mine'))
    await bad('agent.memory.forget', { token: t, body: { uri: theirs.uri } }, 403)
    await bad('agent.memory.forget', { token: t, body: { uri: `at://${a.did}/app.bsky.feed.post/3l2a` } })
    const missing = await bad('agent.memory.forget', {
      token: t,
      body: { uri: `at://${a.did}/agent.memory.note/3l2aaaaaaaaaa` },
    })
    expect(missing.error).toBe('RecordNotFound')
    await bad('agent.memory.setRetention', { token: t, body: { policy: { maxCount: -1 } } })
    await bad('agent.memory.runRetention', { token: t, body: { maxSteps: 500 } })
    await bad('agent.admin.reindex', { token: t, body: { did: a.did } }, 401)
    expect(await listRecords(a, 'agent.memory.note')).toHaveLength(0)
    expect(await listRecords(a, 'agent.memory.fact')).toHaveLength(0)
  })
})
