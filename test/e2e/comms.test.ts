/**
 * Agent-to-agent delivery on a real `wrangler dev`: records written to the
 * sender's own repo reach the recipients' inboxes through the relay, the
 * router and the Queue, verified, exactly once; and a SIGKILL in the middle
 * of deliveries loses none and duplicates none.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAccount, type Network, startNetwork, xrpcPost } from './network.ts'

type Agent = { did: string; accessJwt: string }
const text = (t: string) => ({ $type: 'agent.comms.defs#textContent', kind: 'text', text: t })
const now = () => new Date().toISOString()

async function write(net: Network, agent: Agent, collection: string, record: object) {
  const res = await xrpcPost(
    net.url,
    'com.atproto.repo.createRecord',
    { repo: agent.did, collection, record: { $type: collection, ...record } },
    agent.accessJwt,
  )
  return res as { uri: string; cid: string }
}

async function inbox(net: Network, agent: Agent): Promise<{ uri: string; cid: string; record: any }[]> {
  const items: { uri: string; cid: string; record: any }[] = []
  let cursor = ''
  for (;;) {
    const res = await fetch(
      `${net.url}/xrpc/agent.comms.listInbox?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { headers: { authorization: `Bearer ${agent.accessJwt}` }, signal: AbortSignal.timeout(10_000) },
    )
    const body = (await res.json()) as any
    if (res.status !== 200) throw new Error(`listInbox: ${res.status} ${JSON.stringify(body)}`)
    items.push(...body.items)
    if (!body.cursor) return items
    cursor = body.cursor
  }
}

async function until(pred: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const nets: Network[] = []
afterAll(async () => {
  await Promise.all(nets.map((n) => n.stop()))
})

describe('comms delivery on wrangler dev', () => {
  it('request → working → completed, a broadcast to 50 agents, handoffs (valid accepted, tampered rejected) and bad input', async () => {
    const net = await startNetwork()
    nets.push(net)
    const a = await createAccount(net, 'requester')
    const b = await createAccount(net, 'worker')
    const req = await write(net, a, 'agent.comms.request', {
      sender: a.did,
      assignee: b.did,
      task: 'add 2 and 3',
      createdAt: now(),
    })
    await until(async () => (await inbox(net, b)).length === 1, 'the request at B')
    for (const state of ['working', 'completed'])
      await write(net, b, 'agent.comms.response', {
        sender: b.did,
        request: { uri: req.uri, cid: req.cid },
        state,
        ...(state === 'completed'
          ? { result: { $type: 'agent.comms.defs#typedData', schema: 'com.example.sum', data: { sum: 5 } } }
          : {}),
        createdAt: now(),
      })
    await until(async () => (await inbox(net, a)).length === 2, 'both responses at A')
    expect((await inbox(net, a)).map((i) => i.record.state)).toEqual(['working', 'completed'])
    // The router indexed both responses before delivering them: getTask shows the whole history.
    const task = (await (
      await fetch(`${net.url}/xrpc/agent.comms.getTask?uri=${encodeURIComponent(req.uri)}`)
    ).json()) as any
    expect(task).toMatchObject({ request: { uri: req.uri, cid: req.cid }, state: 'completed' })
    expect(task.history.map((h: any) => [h.author, h.state])).toEqual([
      [b.did, 'working'],
      [b.did, 'completed'],
    ])

    const audience: Agent[] = []
    for (let i = 0; i < 50; i++) audience.push(await createAccount(net, `listener${i}`))
    const cast = await write(net, a, 'agent.comms.broadcast', {
      sender: a.did,
      content: text('to all fifty'),
      audience: audience.map((x) => x.did),
      createdAt: now(),
    })
    // One inbox at a time: 50 requests at once through wrangler's dev proxy can stall one of them.
    await until(async () => {
      for (const x of audience) if ((await inbox(net, x)).length < 1) return false
      return true
    }, 'the broadcast in 50 inboxes')
    await new Promise((r) => setTimeout(r, 500))
    for (const x of audience) expect((await inbox(net, x)).map((i) => i.uri)).toEqual([cast.uri])
    expect((await inbox(net, a))[1]!.record.result.data).toEqual({ sum: 5 })

    // Handoffs: three context refs that check are accepted; a tampered cid is rejected, and the
    // receiver answers with a `rejected` response that reaches the sender.
    const notes = []
    for (let i = 0; i < 3; i++)
      notes.push(await write(net, a, 'agent.memory.note', { text: `context ${i}`, createdAt: now() }))
    const good = await write(net, a, 'agent.comms.handoff', {
      sender: a.did,
      recipient: b.did,
      summary: 'take over the sums',
      context: notes.map((n) => ({ uri: n.uri, cid: n.cid })),
      createdAt: now(),
    })
    const tampered = await write(net, a, 'agent.comms.handoff', {
      sender: a.did,
      recipient: b.did,
      summary: 'this one cites a record at the wrong version',
      context: [
        { uri: notes[0]!.uri, cid: notes[0]!.cid },
        { uri: notes[1]!.uri, cid: notes[2]!.cid },
      ],
      createdAt: now(),
    })
    await until(
      async () => (await inbox(net, a)).some((i) => i.record.request?.uri === tampered.uri),
      "B's rejection at A",
    )
    const rejection = (await inbox(net, a)).find((i) => i.record.request?.uri === tampered.uri)!
    expect(rejection.record).toMatchObject({
      sender: b.did,
      state: 'rejected',
      error: { code: 'RefMismatch' },
    })
    const atB = (await inbox(net, b)).map((i) => i.uri)
    expect(atB).toContain(good.uri)
    expect(atB).not.toContain(tampered.uri)

    // Bad input: refused at write with a clear 400, or (a recipient nobody hosts) a dead letter.
    const refusedWrite = async (record: object) => {
      const res = await fetch(`${net.url}/xrpc/com.atproto.repo.createRecord`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.accessJwt}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repo: a.did, collection: 'agent.comms.message', record }),
      })
      expect(res.status).toBe(400)
      return ((await res.json()) as { error: string; message: string }).message
    }
    const msg = { $type: 'agent.comms.message', sender: a.did, recipient: b.did, createdAt: now() }
    expect(await refusedWrite({ ...msg, content: text('x'.repeat(10_001)) })).toMatch(/graphemes/)
    expect(await refusedWrite({ ...msg, content: 'not a content object' })).toMatch(/content/)
    expect(
      await (async () => {
        const res = await fetch(`${net.url}/xrpc/com.atproto.repo.createRecord`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.accessJwt}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            repo: a.did,
            collection: 'agent.comms.broadcast',
            record: {
              sender: a.did,
              content: text('too many'),
              audience: Array.from({ length: 101 }, (_, i) => `topic${i}`),
              createdAt: now(),
            },
          }),
        })
        return res.status
      })(),
    ).toBe(400)
    const ghost = await write(net, a, 'agent.comms.message', {
      sender: a.did,
      recipient: 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa',
      content: text('to nobody'),
      createdAt: now(),
    })
    await until(async () => {
      const res = await fetch(`${net.url}/xrpc/agent.admin.listDeadLetters`, {
        headers: { authorization: `Bearer ${net.adminToken}` },
      })
      const items = ((await res.json()) as { items: { uri: string; reason: string }[] }).items
      return items.some((d) => d.uri === ghost.uri && /not on this network/.test(d.reason))
    }, 'the dead letter for an unknown recipient')
    expect((await fetch(`${net.url}/xrpc/_health`)).status).toBe(200)
  })

  it('SIGKILL during deliveries: after a restart every acknowledged message is in its inbox exactly once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'murmur-comms-crash-'))
    try {
      let net = await startNetwork({ stateDir })
      const sender = await createAccount(net, 'crashsender')
      const recipients: Agent[] = []
      for (let i = 0; i < 10; i++) recipients.push(await createAccount(net, `crashrcpt${i}`))
      const acked = new Map<string, string[]>(recipients.map((r) => [r.did, []]))
      // Writes race the kill: whatever was acknowledged must be delivered.
      let stop = false
      const writing = (async () => {
        for (let i = 0; !stop; i++) {
          const to = recipients[i % recipients.length]!
          try {
            const res = await write(net, sender, 'agent.comms.message', {
              sender: sender.did,
              recipient: to.did,
              content: text(`message ${i}`),
              createdAt: now(),
            })
            acked.get(to.did)!.push(res.uri)
          } catch {
            return
          }
        }
      })()
      await new Promise((r) => setTimeout(r, 1500))
      await net.stop('SIGKILL')
      stop = true
      await writing
      const total = [...acked.values()].reduce((n, l) => n + l.length, 0)
      expect(total).toBeGreaterThan(10)

      net = await startNetwork({ stateDir, secrets: net.secrets })
      nets.push(net)
      // Sessions survive the restart; the recipients read their inboxes with the same tokens.
      const delivered = async (r: Agent) => new Set((await inbox(net, r)).map((i) => i.uri))
      await until(
        async () => {
          for (const r of recipients) {
            const got = await delivered(r)
            if (!acked.get(r.did)!.every((u) => got.has(u))) return false
          }
          return true
        },
        `${total} deliveries after the restart`,
        90_000,
      )
      await new Promise((r) => setTimeout(r, 1000))
      // A write cut off by the kill may still have committed: then it is delivered too, and it is
      // in the sender's repo. Nothing else may be in an inbox, and nothing twice.
      const committed = new Set<string>()
      let cursor = ''
      for (;;) {
        const res = await fetch(
          `${net.url}/xrpc/com.atproto.repo.listRecords?repo=${sender.did}&collection=agent.comms.message&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        )
        const body = (await res.json()) as any
        for (const rec of body.records) committed.add(rec.uri)
        if (!body.cursor || body.records.length === 0) break
        cursor = body.cursor
      }
      for (const r of recipients) {
        const uris = (await inbox(net, r)).map((i) => i.uri)
        expect(new Set(uris).size).toBe(uris.length)
        for (const u of acked.get(r.did)!) expect(uris).toContain(u)
        for (const u of uris) expect(committed.has(u)).toBe(true)
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })
})
