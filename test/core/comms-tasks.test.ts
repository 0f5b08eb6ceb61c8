/** Task rules that need no Worker: who receives a response, whose response moves a task, signed notes. */
import { describe, expect, it } from 'vitest'
import { recipients } from '../../src/comms/recipients.ts'
import { noteBytes, signNote, taskNoteKey, verifyNote } from '../../src/comms/task-note.ts'
import { judge } from '../../src/comms/tasks.ts'

const A = 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa'
const B = 'did:cf:bbbbbbbbbbbbbbbbbbbbbbbb'
const C = 'did:cf:cccccccccccccccccccccccc'
const REQ = `at://${A}/agent.comms.request/3lxaaaaaaaaaa`
const response = (state: string) => ({ sender: A, request: { uri: REQ, cid: 'bafyreq' }, state })

describe('response recipients', () => {
  it("go to the request's author; the author's own response goes to the task's workers", () => {
    expect(recipients('agent.comms.response', B, { ...response('working'), sender: B })).toEqual([A])
    const workers = (uri: string) => (uri === REQ ? [B] : [])
    expect(recipients('agent.comms.response', A, response('canceled'), workers)).toEqual([B])
    // Without the index (or for an unknown task) the author's own response goes nowhere.
    expect(recipients('agent.comms.response', A, response('canceled'))).toEqual([])
    expect(recipients('agent.comms.response', A, response('canceled'), () => [A, C, C])).toEqual([C])
  })
})

describe('whose response moves a task', () => {
  const assigned = { cid: 'bafyreq', sender: A, worker: B, audience: [], state: 'working', deadline: null }
  const r = (author: string, state: string, requestCid = 'bafyreq', at = 1000) => ({
    author,
    state,
    requestCid,
    at,
  })

  it('an assigned task moves only for its assignee, and is canceled only by its sender', () => {
    expect(judge(assigned, r(B, 'completed'))).toBe('move')
    expect(judge(assigned, r(C, 'completed'))).toBe('ignore')
    expect(judge(assigned, r(A, 'completed'))).toBe('ignore')
    expect(judge(assigned, r(A, 'canceled'))).toBe('move')
    expect(judge(assigned, r(B, 'canceled'))).toBe('ignore')
    expect(judge(assigned, r(B, 'completed', 'bafyother'))).toBe('ignore')
  })

  it('nothing moves a terminal task', () => {
    for (const state of ['completed', 'failed', 'canceled', 'rejected']) {
      expect(judge({ ...assigned, state }, r(B, 'working'))).toBe('ignore')
      expect(judge({ ...assigned, state }, r(A, 'canceled'))).toBe('ignore')
    }
  })

  it('nothing routed after the deadline moves a task: it failed then', () => {
    expect(judge({ ...assigned, deadline: 1000 }, r(B, 'completed', 'bafyreq', 1000))).toBe('move')
    expect(judge({ ...assigned, deadline: 1000 }, r(B, 'completed', 'bafyreq', 1001))).toBe('ignore')
    expect(judge({ ...assigned, deadline: 1000 }, r(A, 'canceled', 'bafyreq', 1001))).toBe('ignore')
  })

  it('an open task is claimed by the first eligible answer; a refusal only declines it', () => {
    const open = {
      cid: 'bafyreq',
      sender: A,
      worker: null,
      audience: [B],
      state: 'submitted',
      deadline: null,
    }
    expect(judge(open, r(B, 'working'))).toBe('claim')
    expect(judge(open, r(C, 'working'))).toBe('ignore')
    expect(judge(open, r(B, 'rejected'))).toBe('ignore')
    expect(judge({ ...open, audience: [] }, r(C, 'working'))).toBe('claim')
    expect(judge({ ...open, audience: [] }, r(A, 'working'))).toBe('ignore')
  })
})

describe('network-signed task notes', () => {
  const secret = 'test-network-secret-0123456789abcdef0123456789'
  const subject = { task: REQ, cid: 'bafyreq', state: 'failed' }

  it('verify against the task-note key, and only for what was signed', async () => {
    const key = (await taskNoteKey(secret)).did
    const note = await signNote(secret, subject, 'deadline passed', '2025-01-01T00:00:00.000Z')
    expect(note.key).toBe(key)
    expect(await verifyNote(note, subject, key)).toBe(true)
    expect(await verifyNote(note, { ...subject, state: 'completed' }, key)).toBe(false)
    expect(await verifyNote({ ...note, text: 'all good' }, subject, key)).toBe(false)
    expect(await verifyNote(note, subject, (await taskNoteKey(`${secret}x`)).did)).toBe(false)
    expect(await verifyNote({ ...note, sig: '!!' }, subject, key)).toBe(false)
    expect(noteBytes(subject, 'x', 'y')).toBeInstanceOf(Uint8Array)
  })
})
