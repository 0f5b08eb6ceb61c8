/**
 * Tasks inside workerd: the router indexes requests and the responses citing
 * them as it routes; getTask shows the request, its state and its history.
 */
import { describe, expect, it } from 'vitest'
import { createAgent, xrpc } from './helpers.ts'
import { request, respond, taskWith, until } from './task-helpers.ts'

describe('tasks', () => {
  it('request → working → completed: the history in order, the state completed', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const req = await request(a, { assignee: b.did })
    const fresh = await taskWith(req.uri, 0)
    expect(fresh).toMatchObject({
      request: { uri: req.uri, cid: req.cid, value: { task: 'sum 2 and 3', assignee: b.did } },
      state: 'submitted',
      history: [],
      sender: a.did,
      assignee: b.did,
      worker: b.did,
    })
    const working = await respond(b, req, 'working')
    const done = await respond(b, req, 'completed', {
      result: { $type: 'agent.comms.defs#typedData', schema: 'com.example.sum', data: { sum: 5 } },
    })
    // After a terminal state a response is history, not a change.
    const late = await respond(b, req, 'failed')
    const task = await taskWith(req.uri, 3)
    expect(task.state).toBe('completed')
    expect(task.note).toBeUndefined()
    expect(task.history).toEqual([
      expect.objectContaining({
        uri: working.uri,
        cid: working.cid,
        author: b.did,
        state: 'working',
        counted: true,
      }),
      expect.objectContaining({
        uri: done.uri,
        state: 'completed',
        counted: true,
        value: expect.objectContaining({ result: expect.objectContaining({ data: { sum: 5 } }) }),
      }),
      expect.objectContaining({ uri: late.uri, state: 'failed', counted: false }),
    ])
  })

  it('responses from anyone but the assignee do not move the task', async () => {
    const [a, b, c] = await Promise.all([createAgent(), createAgent(), createAgent()])
    const req = await request(a, { assignee: b.did })
    await respond(c, req, 'completed')
    await respond(a, req, 'completed')
    await respond(b, req, 'canceled')
    await respond(
      b,
      { uri: req.uri, cid: 'bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' },
      'completed',
    )
    const task = await taskWith(req.uri, 4)
    expect(task.state).toBe('submitted')
    expect(task.history.map((h: { counted: boolean }) => h.counted)).toEqual([false, false, false, false])
  })

  it('the sender cancels with a response to its own request, and the assignee receives it', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const req = await request(a, { assignee: b.did })
    await respond(b, req, 'working')
    const cancel = await respond(a, req, 'canceled')
    const task = await taskWith(req.uri, 2)
    expect(task.state).toBe('canceled')
    expect(task.history.at(-1)).toMatchObject({
      uri: cancel.uri,
      author: a.did,
      state: 'canceled',
      counted: true,
    })
    const inbox = await until(
      async () => (await xrpc('agent.comms.listInbox', { token: b.accessJwt })).body.items as any[],
      (items) => items.some((i) => i.uri === cancel.uri),
      "the cancel in the assignee's inbox",
    )
    expect(inbox.find((i) => i.uri === cancel.uri)).toMatchObject({ sender: a.did, verified: true })
  })
})
