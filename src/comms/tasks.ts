/**
 * The task index: the router (router-do.ts) files every `agent.comms.request`
 * and every `agent.comms.response` citing one here, in the same transaction
 * that moves its cursor, so the index is exactly as far along as routing.
 * The records stay the truth; this is a derived view of them, in routing
 * (relay seq) order.
 *
 * Whose response moves a task (`counts`):
 * - `canceled` only from the request's sender (its own response to its own
 *   request); from anyone else it is history only;
 * - any other state only from the task's worker: its `assignee`, or for an
 *   open task (no assignee) the first eligible agent to answer, who claims it.
 *   Eligible: a DID of the audience, or anyone when the audience names no
 *   DID (topic tags cannot be checked yet). A `rejected` from a candidate of
 *   an open task declines it for that agent only: it neither claims nor ends
 *   the task;
 * - a response citing another version (cid) of the request is history only;
 * - after a terminal state nothing moves the task, and neither does a
 *   response routed after the deadline (the task failed then: task-view.ts
 *   shows it); such responses are still recorded in its history.
 */
import { isDid } from '../atproto/syntax/index.ts'
import type { Migration } from '../storage/migrations.ts'

export const REQUEST = 'agent.comms.request'
export const RESPONSE = 'agent.comms.response'

export const TERMINAL_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'canceled', 'rejected'])

/** The router's second migration (deliveries.ts holds the list). */
export const TASK_MIGRATION: Migration = [
  `CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uri TEXT NOT NULL UNIQUE,
    cid TEXT NOT NULL,
    sender TEXT NOT NULL,
    assignee TEXT,
    worker TEXT,
    audience TEXT NOT NULL,
    task TEXT NOT NULL,
    deadline INTEGER,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    seq INTEGER NOT NULL
  )`,
  'CREATE INDEX tasks_sender ON tasks (sender, id)',
  'CREATE INDEX tasks_worker ON tasks (worker, id)',
  'CREATE INDEX tasks_state ON tasks (state, id)',
  `CREATE TABLE task_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_uri TEXT NOT NULL,
    request_cid TEXT NOT NULL,
    uri TEXT NOT NULL,
    cid TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    counted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (uri, cid)
  )`,
  'CREATE INDEX task_responses_request ON task_responses (request_uri, id)',
]

export interface TaskSummary {
  uri: string
  cid: string
  sender: string
  /** The request's `assignee`, if it named one. */
  assignee?: string
  /** Whose responses move the task: the assignee, or whoever claimed an open task. */
  worker?: string
  task: string
  deadline?: string
  createdAt: string
  /** The state as the records set it (deadlines are applied by the view, task-view.ts). */
  state: string
  updatedAt: string
}

export interface TaskEntry {
  uri: string
  cid: string
  author: string
  state: string
  createdAt: string
  /** Whether this response moved (or claimed) the task. */
  counted: boolean
}

export interface TaskQuery {
  sender?: string
  assignee?: string
  state?: string
  limit: number
  /** The id after which (descending) to continue, from a previous page. */
  cursor?: number
  /** Now (unix ms): a non-terminal task past its deadline lists as failed. */
  now: number
}

type TaskRow = {
  id: number
  uri: string
  cid: string
  sender: string
  assignee: string | null
  worker: string | null
  audience: string
  task: string
  deadline: number | null
  created_at: string
  state: string
  updated_at: string
}

type ResponseRow = {
  uri: string
  cid: string
  request_cid: string
  author: string
  state: string
  created_at: string
  counted: number
}

type Rec = Record<string, unknown>

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

function summary(r: TaskRow): TaskSummary {
  const s: TaskSummary = {
    uri: r.uri,
    cid: r.cid,
    sender: r.sender,
    task: r.task,
    createdAt: r.created_at,
    state: r.state,
    updatedAt: r.updated_at,
  }
  if (r.assignee) s.assignee = r.assignee
  if (r.worker) s.worker = r.worker
  if (r.deadline !== null) s.deadline = new Date(r.deadline).toISOString()
  return s
}

/** What a response does to a task: nothing, move it, or claim an open task and move it. */
export function judge(
  task: {
    cid: string
    sender: string
    worker: string | null
    audience: string[]
    state: string
    deadline: number | null
  },
  r: { author: string; requestCid: string; state: string; at: number },
): 'ignore' | 'move' | 'claim' {
  if (TERMINAL_STATES.has(task.state) || r.requestCid !== task.cid) return 'ignore'
  // Past its deadline a live task has failed (the view says so); nothing routed later revives it.
  if (task.deadline !== null && r.at > task.deadline) return 'ignore'
  if (r.state === 'canceled') return r.author === task.sender ? 'move' : 'ignore'
  if (task.worker !== null) return r.author === task.worker ? 'move' : 'ignore'
  // An open task: the first eligible answer claims it; a refusal only declines it.
  if (r.state === 'rejected' || r.author === task.sender) return 'ignore'
  const eligible = task.audience.length === 0 || task.audience.includes(r.author)
  return eligible ? 'claim' : 'ignore'
}

export class TaskStore {
  constructor(private readonly sql: SqlStorage) {}

  /** File a new request; responses that arrived before it (another host's order) are applied now. */
  addRequest(uri: string, cid: string, author: string, record: Rec, seq: number, now: number): void {
    const assignee = str(record.assignee)
    const audience = Array.isArray(record.audience)
      ? record.audience.filter((x): x is string => typeof x === 'string' && isDid(x))
      : []
    const deadline = str(record.deadline) === null ? Number.NaN : Date.parse(record.deadline as string)
    const at = new Date(now).toISOString()
    const inserted = this.sql.exec(
      `INSERT OR IGNORE INTO tasks
       (uri, cid, sender, assignee, worker, audience, task, deadline, created_at, state, updated_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?)`,
      uri,
      cid,
      author,
      assignee,
      assignee,
      JSON.stringify(audience),
      str(record.task) ?? '',
      Number.isNaN(deadline) ? null : deadline,
      str(record.createdAt) ?? at,
      at,
      seq,
    ).rowsWritten
    if (inserted === 0) return
    const early = this.sql
      .exec<{ id: number; author: string; request_cid: string; state: string }>(
        'SELECT id, author, request_cid, state FROM task_responses WHERE request_uri = ? ORDER BY id',
        uri,
      )
      .toArray()
    for (const r of early)
      this.apply(uri, r.id, { author: r.author, requestCid: r.request_cid, state: r.state }, now)
  }

  /** File a response in its task's history, and move the task if it counts. */
  addResponse(uri: string, cid: string, author: string, record: Rec, seq: number, now: number): void {
    const request = (record.request ?? {}) as Rec
    const requestUri = str(request.uri)
    const requestCid = str(request.cid)
    const state = str(record.state)
    // Responses also answer handoffs (a rejection): only those citing a request are task history.
    if (!requestUri?.includes(`/${REQUEST}/`) || !requestCid || !state) return
    const at = new Date(now).toISOString()
    const row = this.sql
      .exec<{ id: number }>(
        `INSERT OR IGNORE INTO task_responses
         (request_uri, request_cid, uri, cid, author, state, created_at, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        requestUri,
        requestCid,
        uri,
        cid,
        author,
        state,
        str(record.createdAt) ?? at,
        seq,
      )
      .toArray()[0]
    if (row) this.apply(requestUri, row.id, { author, requestCid, state }, now)
  }

  private apply(
    requestUri: string,
    responseId: number,
    r: { author: string; requestCid: string; state: string },
    now: number,
  ): void {
    const t = this.sql.exec<TaskRow>('SELECT * FROM tasks WHERE uri = ?', requestUri).toArray()[0]
    if (!t) return
    const verdict = judge({ ...t, audience: JSON.parse(t.audience) as string[] }, { ...r, at: now })
    if (verdict === 'ignore') return
    const worker = verdict === 'claim' ? r.author : t.worker
    this.sql.exec(
      'UPDATE tasks SET state = ?, worker = ?, updated_at = ? WHERE uri = ?',
      r.state,
      worker,
      new Date(now).toISOString(),
      requestUri,
    )
    this.sql.exec('UPDATE task_responses SET counted = 1 WHERE id = ?', responseId)
  }

  /** Who works on a task: its worker, or for an unclaimed open task its audience DIDs. */
  workers(requestUri: string): string[] {
    const t = this.sql
      .exec<{ worker: string | null; audience: string }>(
        'SELECT worker, audience FROM tasks WHERE uri = ?',
        requestUri,
      )
      .toArray()[0]
    if (!t) return []
    return t.worker ? [t.worker] : (JSON.parse(t.audience) as string[])
  }

  /** A task and its history, oldest first (at most `historyLimit` entries). */
  get(uri: string, historyLimit: number): { task: TaskSummary; history: TaskEntry[] } | null {
    const t = this.sql.exec<TaskRow>('SELECT * FROM tasks WHERE uri = ?', uri).toArray()[0]
    if (!t) return null
    const history = this.sql
      .exec<ResponseRow>(
        `SELECT uri, cid, request_cid, author, state, created_at, counted FROM task_responses
         WHERE request_uri = ? ORDER BY id LIMIT ?`,
        uri,
        historyLimit,
      )
      .toArray()
      .map(
        (r): TaskEntry => ({
          uri: r.uri,
          cid: r.cid,
          author: r.author,
          state: r.state,
          createdAt: r.created_at,
          counted: r.counted === 1,
        }),
      )
    return { task: summary(t), history }
  }

  /** Tasks, newest first. A `state` filter sees deadlines: past one, a live task is `failed`. */
  list(q: TaskQuery): { tasks: TaskSummary[]; cursor?: string } {
    const where: string[] = []
    const args: (string | number)[] = []
    if (q.cursor !== undefined) {
      where.push('id < ?')
      args.push(q.cursor)
    }
    if (q.sender) {
      where.push('sender = ?')
      args.push(q.sender)
    }
    if (q.assignee) {
      where.push('worker = ?')
      args.push(q.assignee)
    }
    if (q.state) {
      const terminal = [...TERMINAL_STATES].map((s) => `'${s}'`).join(', ')
      const overdue = `(state NOT IN (${terminal}) AND deadline IS NOT NULL AND deadline < ?)`
      if (q.state === 'failed') where.push(`(state = 'failed' OR ${overdue})`)
      else where.push(`state = ? AND NOT ${overdue}`)
      if (q.state !== 'failed') args.push(q.state)
      args.push(q.now)
    }
    const rows = this.sql
      .exec<TaskRow>(
        `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
        ...args,
        q.limit,
      )
      .toArray()
    const tasks = rows.map(summary)
    return rows.length === q.limit ? { tasks, cursor: String(rows.at(-1)!.id) } : { tasks }
  }
}
