/**
 * Handoffs are verified: the receiver proves every ref a handoff cites against
 * the cited repo. A handoff whose refs all check is filed in its inbox; one
 * with a wrong CID or a missing record is rejected, answered once with a
 * `rejected` response that reaches the handoff's sender.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { agentStub } from '../../src/pds/agents.ts'
import { createAgent, xrpc } from './helpers.ts'

type Agent = { did: string; accessJwt: string }
type Ref = { uri: string; cid: string }

const now = () => new Date().toISOString()

async function write(agent: Agent, collection: string, record: object): Promise<Ref> {
  const res = await xrpc('com.atproto.repo.createRecord', {
    body: { repo: agent.did, collection, record: { $type: collection, ...record } },
    token: agent.accessJwt,
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

const note = (agent: Agent, text: string) => write(agent, 'agent.memory.note', { text, createdAt: now() })

const handoff = (from: Agent, to: Agent, context: Ref[]) =>
  write(from, 'agent.comms.handoff', {
    sender: from.did,
    recipient: to.did,
    summary: 'over to you',
    context,
    createdAt: now(),
  })

async function inbox(agent: Agent): Promise<any[]> {
  const res = await xrpc('agent.comms.listInbox', { token: agent.accessJwt })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.items
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The rejection that reaches the sender's inbox, once the receiver has answered `sent`. */
async function rejectionOf(sender: Agent, sent: Ref) {
  const items = await until(
    () => inbox(sender),
    (i) => i.some((x) => x.record.request?.uri === sent.uri),
    'the rejection at the sender',
  )
  return items.find((x) => x.record.request?.uri === sent.uri)
}

async function responsesIn(agent: Agent): Promise<any[]> {
  const params = { repo: agent.did, collection: 'agent.comms.response' }
  return (await xrpc('com.atproto.repo.listRecords', { params })).body.records
}

describe('handoff verification', () => {
  it('accepts a handoff whose context refs all check, across repos', async () => {
    const [a, b, c] = await Promise.all([createAgent(), createAgent(), createAgent()])
    const refs = [await note(a, 'plan'), await note(b, "B's own notes"), await note(c, 'a third repo')]
    const sent = await handoff(a, b, refs)
    const items = await until(
      () => inbox(b),
      (i) => i.length > 0,
      'the handoff at B',
    )
    expect(items).toMatchObject([{ uri: sent.uri, cid: sent.cid, verified: true, state: 'unread' }])
    expect(await responsesIn(b)).toEqual([])
  })

  it('rejects a tampered cid: the sender hears why, the receiver does not file it, once', async () => {
    const [a, b] = await Promise.all([createAgent(), createAgent()])
    const real = await note(a, 'real')
    const other = await note(a, 'other')
    const sent = await handoff(a, b, [real, { uri: other.uri, cid: real.cid }])
    const answer = await rejectionOf(a, sent)
    expect(answer).toMatchObject({
      sender: b.did,
      collection: 'agent.comms.response',
      verified: true,
      record: {
        sender: b.did,
        request: { uri: sent.uri, cid: sent.cid },
        state: 'rejected',
        error: { code: 'RefMismatch', retryable: false },
      },
    })
    expect(answer.record.error.message).toContain(`context[1]: ${other.uri} is at ${other.cid}`)
    expect((await inbox(b)).filter((i) => i.uri === sent.uri)).toEqual([])

    // A redelivery (the Queue is at least once) is answered by the first rejection, not a new one.
    const again = await agentStub(env, b.did).deliver({
      id: 0,
      recipient: b.did,
      uri: sent.uri,
      cid: sent.cid,
      sender: a.did,
      collection: 'agent.comms.handoff',
      expiresAt: null,
    })
    expect(again).toEqual({
      ok: true,
      value: {
        accepted: false,
        rejected: { code: 'RefMismatch', message: expect.any(String), response: answer.uri },
      },
    })
    expect((await responsesIn(b)).map((r) => r.uri)).toEqual([answer.uri])
    expect((await inbox(b)).filter((i) => i.uri === sent.uri)).toEqual([])
  })

  it('rejects a handoff citing a record that does not exist, or a repo not on this network', async () => {
    const [a, b] = await Promise.all([createAgent(), createAgent()])
    const gone = await note(a, 'soon deleted')
    const rkey = gone.uri.split('/').pop()!
    const del = await xrpc('com.atproto.repo.deleteRecord', {
      body: { repo: a.did, collection: 'agent.memory.note', rkey },
      token: a.accessJwt,
    })
    expect(del.status).toBe(200)
    const missing = await handoff(a, b, [await note(a, 'kept'), gone])
    const foreign = await handoff(a, b, [
      { uri: `at://did:web:example.com/agent.memory.note/${rkey}`, cid: gone.cid },
    ])
    expect((await rejectionOf(a, missing)).record.error).toMatchObject({
      code: 'RefNotFound',
      message: `context[1]: ${gone.uri} does not exist`,
    })
    expect((await rejectionOf(a, foreign)).record.error).toMatchObject({
      code: 'RefNotOnNetwork',
      message: expect.stringContaining('not on this network'),
    })
    expect(await inbox(b)).toEqual([])
  })
})
