/**
 * What `agent.comms.getTask` and `agent.comms.listTasks` show: the router's
 * task index (tasks.ts) with the records' values read from the authors'
 * repos, and the deadline applied at read time. A live task past its
 * deadline shows as `failed` with a note the network signs (task-note.ts);
 * no record is written for it, so the view is the only place it appears.
 */
import type { Env } from '../env.ts'
import { unwrap, XrpcError } from '../http/xrpc.ts'
import { agentStub } from '../pds/agents.ts'
import { routerStub } from './router-do.ts'
import { signNote, type TaskNote } from './task-note.ts'
import { REQUEST, RESPONSE, type TaskQuery, type TaskSummary, TERMINAL_STATES } from './tasks.ts'

/** A history longer than this is cut (its first entries are shown) and flagged. */
export const HISTORY_LIMIT = 250

export const DEADLINE_NOTE = 'deadline passed without a terminal state'

export interface TaskView {
  request: { uri: string; cid: string; value?: unknown }
  state: string
  history: {
    uri: string
    cid: string
    author: string
    state: string
    createdAt: string
    /** Whether this response moved the task (tasks.ts says whose do). */
    counted: boolean
    value?: unknown
  }[]
  historyTruncated?: true
  sender: string
  assignee?: string
  worker?: string
  deadline?: string
  note?: TaskNote
}

export const taskNotFound = (uri: string) =>
  new XrpcError(400, 'TaskNotFound', `No agent.comms.request is indexed at ${uri}`)

/** The state to show, and the network's note when the deadline overrules the records. */
async function applyDeadline(
  env: Env,
  t: TaskSummary,
  now: number,
): Promise<{ state: string; note?: TaskNote }> {
  if (!t.deadline || TERMINAL_STATES.has(t.state) || Date.parse(t.deadline) >= now) return { state: t.state }
  const subject = { task: t.uri, cid: t.cid, state: 'failed' }
  // "at" the deadline, so every read makes the same statement (the ECDSA signature itself varies).
  const note = await signNote(env.MURMUR_SECRET ?? '', subject, DEADLINE_NOTE, t.deadline)
  return { state: 'failed', note }
}

/** A record's value from its author's repo at exactly `cid`; undefined when it is not there (deleted, or another host's). */
async function recordValue(env: Env, uri: string, cid: string, collection: string): Promise<unknown> {
  const [did, , rkey] = uri.slice(5).split('/') as [string, string, string]
  try {
    const found = unwrap(await agentStub(env, did).getRecord(collection, rkey, cid)) as { value: unknown }
    return found.value
  } catch {
    return undefined
  }
}

export async function taskView(env: Env, uri: string, now = Date.now()): Promise<TaskView> {
  const found = await routerStub(env).task(uri, HISTORY_LIMIT + 1)
  if (!found) throw taskNotFound(uri)
  const { task: t } = found
  const entries = found.history.slice(0, HISTORY_LIMIT)
  const [requestValue, values, deadline] = await Promise.all([
    recordValue(env, t.uri, t.cid, REQUEST),
    Promise.all(entries.map((h) => recordValue(env, h.uri, h.cid, RESPONSE))),
    applyDeadline(env, t, now),
  ])
  const view: TaskView = {
    request: { uri: t.uri, cid: t.cid, value: requestValue },
    state: deadline.state,
    history: entries.map((h, i) => ({
      uri: h.uri,
      cid: h.cid,
      author: h.author,
      state: h.state,
      createdAt: h.createdAt,
      counted: h.counted,
      value: values[i],
    })),
    sender: t.sender,
  }
  if (found.history.length > HISTORY_LIMIT) view.historyTruncated = true
  if (t.assignee) view.assignee = t.assignee
  if (t.worker) view.worker = t.worker
  if (t.deadline) view.deadline = t.deadline
  if (deadline.note) view.note = deadline.note
  return view
}

export async function listTaskViews(
  env: Env,
  q: Omit<TaskQuery, 'now'>,
  now = Date.now(),
): Promise<{ tasks: (TaskSummary & { note?: TaskNote })[]; cursor?: string }> {
  const page = await routerStub(env).listTasks({ ...q, now })
  const tasks = await Promise.all(
    page.tasks.map(async (t) => {
      const d = await applyDeadline(env, t, now)
      return d.note ? { ...t, state: d.state, note: d.note } : t
    }),
  )
  return page.cursor ? { tasks, cursor: page.cursor } : { tasks }
}
