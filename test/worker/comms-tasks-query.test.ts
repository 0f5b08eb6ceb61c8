/** Task deadlines (a network-signed note, never a record), listTasks filters, and bad parameters. */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { taskNoteKey, verifyNote } from '../../src/comms/task-note.ts'
import { createAgent, xrpc } from './helpers.ts'
import { getTask, request, respond, taskWith } from './task-helpers.ts'

const list = async (params: Record<string, string>) => {
  const res = await xrpc('agent.comms.listTasks', { params })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body as { tasks: { uri: string; state: string; note?: unknown }[]; cursor?: string }
}

describe('task deadlines and listings', () => {
  it('a live task past its deadline shows as failed, with a note the network signed', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const deadline = new Date(Date.now() - 60_000).toISOString()
    const req = await request(a, { assignee: b.did, deadline })
    await respond(b, req, 'working')
    await respond(b, req, 'completed')
    const task = await taskWith(req.uri, 2)
    expect(task).toMatchObject({
      state: 'failed',
      deadline,
      note: { text: expect.any(String), at: deadline },
    })
    const key = (await taskNoteKey(env.MURMUR_SECRET!)).did
    const subject = { task: req.uri, cid: req.cid, state: 'failed' }
    expect(await verifyNote(task.note, subject, key)).toBe(true)
    expect(await verifyNote({ ...task.note, at: new Date().toISOString() }, subject, key)).toBe(false)
    // The records are untouched and listed; written after the deadline, they do not count.
    expect(task.history.map((h: { state: string; counted: boolean }) => [h.state, h.counted])).toEqual([
      ['working', false],
      ['completed', false],
    ])
    const failed = await list({ sender: a.did, state: 'failed' })
    // ECDSA signatures are randomized: each read signs the same statement anew.
    const { sig: _, ...statement } = task.note
    expect(failed.tasks).toMatchObject([{ uri: req.uri, state: 'failed', note: statement }])
    expect(await verifyNote(failed.tasks[0]!.note as typeof task.note, subject, key)).toBe(true)
    expect((await list({ sender: a.did, state: 'working' })).tasks).toEqual([])
  })

  it('listTasks filters by sender, assignee and state, newest first, in pages', async () => {
    const [a, b, c] = await Promise.all([createAgent(), createAgent(), createAgent()])
    const r1 = await request(a, { assignee: b.did })
    const r2 = await request(a, { assignee: c.did })
    const r3 = await request(c, { assignee: b.did })
    await respond(b, r1, 'completed')
    await taskWith(r1.uri, 1)
    await taskWith(r3.uri, 0)
    const uris = (p: { tasks: { uri: string }[] }) => p.tasks.map((t) => t.uri)
    expect(uris(await list({ sender: a.did }))).toEqual([r2.uri, r1.uri])
    expect(uris(await list({ assignee: b.did }))).toEqual([r3.uri, r1.uri])
    expect(uris(await list({ assignee: b.did, state: 'completed' }))).toEqual([r1.uri])
    expect(uris(await list({ sender: a.did, state: 'submitted' }))).toEqual([r2.uri])
    const first = await list({ sender: a.did, limit: '1' })
    expect(uris(first)).toEqual([r2.uri])
    expect(uris(await list({ sender: a.did, limit: '1', cursor: first.cursor! }))).toEqual([r1.uri])
  })

  it('refuses bad parameters, and names an unknown task', async () => {
    const a = await createAgent()
    const bad: [string, Record<string, string>][] = [
      ['agent.comms.getTask', {}],
      ['agent.comms.getTask', { uri: 'not a uri' }],
      ['agent.comms.getTask', { uri: `at://${a.did}/agent.comms.message/3lxaaaaaaaaaa` }],
      ['agent.comms.getTask', { uri: `at://${a.did}` }],
      ['agent.comms.listTasks', { sender: 'alice' }],
      ['agent.comms.listTasks', { assignee: 'did:' }],
      ['agent.comms.listTasks', { state: 'DONE!' }],
      ['agent.comms.listTasks', { limit: '0' }],
      ['agent.comms.listTasks', { cursor: 'x' }],
    ]
    for (const [method, params] of bad) {
      const res = await xrpc(method, { params })
      expect(res.status, `${method} ${JSON.stringify(params)}`).toBe(400)
      expect(res.body.error).toBe('InvalidRequest')
    }
    const unknown = await getTask(`at://${a.did}/agent.comms.request/3lxaaaaaaaaaa`)
    expect(unknown.status).toBe(400)
    expect(unknown.body).toMatchObject({ error: 'TaskNotFound', message: expect.stringContaining(a.did) })
  })
})
