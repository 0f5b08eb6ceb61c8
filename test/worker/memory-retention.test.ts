/**
 * Retention rolls old notes into summaries, a chunk per commit, and no covered
 * TID range loses a note: every note inside a summary's from–to is in its refs.
 */
import { describe, expect, it } from 'vitest'
import { createAgent, xrpc } from './helpers.ts'
import { note } from './memory-helpers.ts'

type Listed = { uri: string; cid: string; value: Record<string, any> }

async function listAll(agent: { did: string }, collection: string): Promise<Listed[]> {
  const out: Listed[] = []
  let cursor: string | undefined
  for (;;) {
    const res = await xrpc('com.atproto.repo.listRecords', {
      params: { repo: agent.did, collection, limit: '100', ...(cursor ? { cursor } : {}) },
    })
    expect(res.status).toBe(200)
    out.push(...res.body.records)
    cursor = res.body.cursor
    if (!cursor || res.body.records.length === 0) return out
  }
}

const rkey = (uri: string) => uri.slice(uri.lastIndexOf('/') + 1)

describe('memory retention', () => {
  it('rolls 1,000 notes into summaries beyond the newest 100, in resumable steps', async () => {
    const a = await createAgent()
    for (let batch = 0; batch < 5; batch++) {
      const writes = Array.from({ length: 200 }, (_, i) => ({
        $type: 'com.atproto.repo.applyWrites#create',
        collection: 'agent.memory.note',
        value: note(
          `Observation ${batch * 200 + i}: the build took ${(i % 17) + 3} minutes on runner ${i % 5}.`,
          {
            importance: (i % 5) + 1,
            tags: [`runner-${i % 5}`],
          },
        ),
      }))
      const res = await xrpc('com.atproto.repo.applyWrites', {
        token: a.accessJwt,
        body: { repo: a.did, writes },
      })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
    }
    const original = await listAll(a, 'agent.memory.note')
    expect(original).toHaveLength(1000)
    const keys = original.map((n) => rkey(n.uri)).sort()

    const set = await xrpc('agent.memory.setRetention', {
      token: a.accessJwt,
      body: { policy: { maxCount: 100 } },
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(set.body.policy).toEqual({ maxCount: 100 })

    // A few steps, then the rest: each call picks up where the last left off.
    const first = await xrpc('agent.memory.runRetention', { token: a.accessJwt, body: { maxSteps: 3 } })
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    for (let i = 0; i < 20; i++) {
      const res = await xrpc('agent.memory.runRetention', { token: a.accessJwt, body: { maxSteps: 10 } })
      expect(res.status).toBe(200)
      if (res.body.done) break
    }

    const notes = await listAll(a, 'agent.memory.note')
    const summaries = await listAll(a, 'agent.memory.summary')
    expect(notes.map((n) => rkey(n.uri)).sort()).toEqual(keys.slice(900))
    expect(summaries).toHaveLength(9)
    const covered: string[] = []
    for (const s of summaries.sort((x, y) => (x.value.covers.from < y.value.covers.from ? -1 : 1))) {
      const { from, to, count, refs, collection } = s.value.covers
      expect(collection).toBe('agent.memory.note')
      expect(refs).toHaveLength(count)
      // Exactly the original notes inside [from, to], no more, no fewer.
      const inRange = original.filter((n) => rkey(n.uri) >= from && rkey(n.uri) <= to)
      expect(refs.map((r: { uri: string }) => r.uri).sort()).toEqual(inRange.map((n) => n.uri).sort())
      for (const r of refs) expect(r.cid).toBe(original.find((n) => n.uri === r.uri)!.cid)
      expect(s.value.text).toMatch(/^100 notes, /)
      covered.push(...refs.map((r: { uri: string }) => rkey(r.uri)))
    }
    expect(covered.sort()).toEqual(keys.slice(0, 900))
    // Nothing further is due; another run changes nothing.
    const again = await xrpc('agent.memory.runRetention', { token: a.accessJwt, body: {} })
    expect(again.body).toMatchObject({ steps: 0, rolled: 0, done: true })
  }, 120_000)

  it('rolls up notes older than maxAgeDays and keeps facts and decisions', async () => {
    const a = await createAgent()
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString()
    for (const text of ['an old note', 'another old note'])
      await xrpc('agent.memory.remember', {
        token: a.accessJwt,
        body: { record: note(text, { createdAt: old }) },
      })
    await xrpc('agent.memory.remember', { token: a.accessJwt, body: { record: note('a fresh note') } })
    await xrpc('agent.memory.remember', {
      token: a.accessJwt,
      body: {
        record: {
          $type: 'agent.memory.decision',
          decision: 'old decision',
          status: 'accepted',
          createdAt: old,
        },
      },
    })
    await xrpc('agent.memory.setRetention', { token: a.accessJwt, body: { policy: { maxAgeDays: 30 } } })
    const res = await xrpc('agent.memory.runRetention', { token: a.accessJwt, body: {} })
    expect(res.body).toMatchObject({ done: true })
    expect((await listAll(a, 'agent.memory.note')).map((n) => n.value.text)).toEqual(['a fresh note'])
    expect(await listAll(a, 'agent.memory.decision')).toHaveLength(1)
    const [summary] = await listAll(a, 'agent.memory.summary')
    expect(summary!.value.covers.count).toBe(2)
    expect(summary!.value.text).toContain('old note')
  }, 60_000)
})
