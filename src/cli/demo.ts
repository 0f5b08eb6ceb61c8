/**
 * `murmur demo`: three agents coordinate on a goal, as the firehose shows it.
 * A planner, a researcher and a writer (created, or reused by name, with
 * their role in the profile's skills); the planner is prompted with the goal;
 * then everything happens between the agents: the planner requests research,
 * the researcher completes it, the planner hands the work to the writer with
 * verified context refs, the writer completes its task. The demo only watches
 * (Jetstream `/subscribe`), then checks the task states and exports and
 * verifies each repo. On the offline scripted model it takes seconds.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { createAgent } from './agents.ts'
import { exportRepo, verifyCar } from './car.ts'
import type { Context } from './context.ts'
import { CliError, XrpcCallError } from './errors.ts'
import { oneLine } from './format.ts'
import { streamUrl } from './tail.ts'

export interface DemoOptions {
  goal: string
  /** Seconds to wait for the writer to complete. */
  timeout: number
}

const ROLES = {
  planner:
    'You plan. Given a goal, find a researcher with list_agents and request_task the research. When the research comes back completed, request_task the write-up from a writer and handoff to them with the research request, response and notes as context. When the write-up is completed, remember that the goal is done.',
  researcher:
    'You research. When you get a task, update_task it to working, recall what you know, remember your findings as a note, then update_task it completed with the findings as the result and the note as an artifact.',
  writer:
    'You write. When you get a task, update_task it to working. When a handoff arrives, get_record its task and each context record, then update_task the task completed with the written result.',
} as const

type Role = keyof typeof ROLES

/** How long after the writer completes the demo waits for the planner's closing note. */
const GRACE_MS = 15_000

type Rec = Record<string, unknown>
const rec = (v: unknown): Rec => (v && typeof v === 'object' ? (v as Rec) : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

interface Event {
  did: string
  kind: string
  commit?: { operation: string; collection: string; rkey: string; cid?: string; record?: Rec }
}

/** The agent named `role`, created with its profile, or the one already there (its profile refreshed). */
async function ensureAgent(ctx: Context, role: Role): Promise<string> {
  const quiet = { ...ctx, out: () => {}, json: true }
  try {
    await createAgent(quiet, role, {
      skills: [role],
      instructions: ROLES[role],
      description: `The demo's ${role}`,
    })
  } catch (err) {
    if (!(err instanceof XrpcCallError) || err.status !== 400) throw err
  }
  const did = await ctx.client.resolve(role)
  await ctx.client.post('com.atproto.repo.putRecord', {
    repo: did,
    collection: 'agent.memory.profile',
    rkey: 'self',
    record: {
      $type: 'agent.memory.profile',
      displayName: role,
      description: `The demo's ${role}`,
      instructions: ROLES[role],
      skills: [role],
      createdAt: new Date().toISOString(),
    },
  })
  return did
}

const TERMINAL = new Set(['completed', 'failed', 'canceled', 'rejected'])

function taskView(ctx: Context, uri: string) {
  return ctx.client.get<{ state: string; worker?: string }>('agent.comms.getTask', { uri }, true)
}

/** One line per conversation event, in the terminal's words. */
function describe(ev: Event, names: Map<string, string>): string | null {
  const c = ev.commit
  if (c?.operation !== 'create' || !c.record) return null
  const r = c.record
  const who = (did: unknown) => (typeof did === 'string' ? (names.get(did) ?? did) : '?')
  const me = who(ev.did)
  switch (c.collection) {
    case 'agent.comms.request':
      return `${me} → ${who(r.assignee)}  asks: ${oneLine(str(r.task), 90)}`
    case 'agent.comms.response': {
      const text = str(rec(r.result).text)
      return `${me}  task ${str(r.state)}${text ? `: ${oneLine(text, 80)}` : ''}`
    }
    case 'agent.comms.handoff': {
      const refs = Array.isArray(r.context) ? r.context.length : 0
      return `${me} → ${who(r.recipient)}  hands off (${refs} context refs): ${oneLine(str(r.summary), 70)}`
    }
    case 'agent.comms.message':
      return `${me} → ${who(r.recipient)}  says: ${oneLine(str(rec(r.content).text), 90)}`
    case 'agent.comms.broadcast':
      return `${me} → all  broadcasts: ${oneLine(str(rec(r.content).text), 90)}`
    case 'agent.memory.note': {
      const text = str(r.text)
      if (!Array.isArray(r.tags) || !r.tags.includes('turn')) return `${me}  remembers: ${oneLine(text, 90)}`
      const model = /^Model: (.*)$/m.exec(text)?.[1] ?? '?'
      const answer = /^Answer: (.*)$/m.exec(text)?.[1] ?? ''
      return `${me}  ends a turn (${model}): ${oneLine(answer, 80)}`
    }
    default:
      return null
  }
}

export async function demo(ctx: Context, opts: DemoOptions): Promise<void> {
  const t0 = Date.now()
  const log = (line: string) => {
    if (!ctx.json) ctx.out(line)
  }
  const elapsed = () => ctx.paint('dim', `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s`)
  const dids = {} as Record<Role, string>
  for (const role of Object.keys(ROLES) as Role[]) dids[role] = await ensureAgent(ctx, role)
  const names = new Map(Object.entries(dids).map(([role, did]) => [did, role]))
  log(
    `agents: ${Object.entries(dids)
      .map(([r, d]) => `${r} ${d}`)
      .join(', ')}`,
  )

  const query = new URLSearchParams()
  for (const did of Object.values(dids)) query.append('wantedDids', did)
  query.append('wantedCollections', 'agent.comms.*')
  query.append('wantedCollections', 'agent.memory.note')
  const ws = new WebSocket(streamUrl(ctx.client.url, query), { perMessageDeflate: false })
  const tasks = new Map<string, string>() // request uri → task text
  const seen = { handoff: '', completed: '', goalDone: false }
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CliError(`the writer did not complete within ${opts.timeout} s`)),
      opts.timeout * 1000,
    )
    let grace: ReturnType<typeof setTimeout> | undefined
    const done = () => {
      clearTimeout(timer)
      clearTimeout(grace)
      resolve()
    }
    ws.on('error', (err) => reject(new CliError(`the firehose failed: ${err.message}`, 1, { cause: err })))
    ws.on('message', (data) => {
      const ev = JSON.parse(data.toString()) as Event
      const line = describe(ev, names)
      if (line) log(`${elapsed()}  ${line}`)
      const c = ev.commit
      if (!c?.record || c.operation !== 'create') return
      const uri = `at://${ev.did}/${c.collection}/${c.rkey}`
      if (c.collection === 'agent.comms.request') tasks.set(uri, str(c.record.task))
      if (c.collection === 'agent.comms.handoff' && ev.did === dids.planner) seen.handoff = uri
      if (c.collection === 'agent.comms.response' && ev.did === dids.writer && c.record.state === 'completed')
        seen.completed = str(rec(c.record.request).uri)
      if (
        c.collection === 'agent.memory.note' &&
        ev.did === dids.planner &&
        /Goal done/.test(str(c.record.text))
      )
        seen.goalDone = true
      // Done once the writer completed and the planner took note of it; a real model may not take
      // that note, so the writer's completion ends the wait GRACE_MS later at most.
      if (seen.completed && seen.goalDone) done()
      else if (seen.completed && !grace) grace = setTimeout(done, GRACE_MS)
    })
  })
  finished.catch(() => {}) // awaited below; a rejection before then must not go unhandled
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })

  const goal = opts.goal
  log(`${elapsed()}  operator → planner  goal: ${goal}`)
  await ctx.client.post('agent.runtime.prompt', { repo: dids.planner, text: `Goal: ${goal}` })
  try {
    await finished
  } finally {
    ws.close()
  }

  // The tasks as the network's task index has them (it follows the firehose: give it a moment).
  const states: { uri: string; task: string; state: string; worker?: string }[] = []
  for (const [uri, text] of tasks) {
    let view = await taskView(ctx, uri)
    for (let i = 0; i < 50 && !TERMINAL.has(view.state); i++) {
      await new Promise((r) => setTimeout(r, 200))
      view = await taskView(ctx, uri)
    }
    states.push({ uri, task: text, state: view.state, ...(view.worker ? { worker: view.worker } : {}) })
    log(`task  ${view.state.padEnd(10)} ${names.get(view.worker ?? '') ?? '?'}: ${oneLine(text, 70)}`)
  }

  // Every repo, exported and verified against its DID's key (from its operation log), as `murmur export`
  // and `murmur verify` do it.
  const dir = mkdtempSync(join(tmpdir(), 'murmur-demo-'))
  const exports: { role: string; file: string; bytes: number; records: number; verified: boolean }[] = []
  for (const [role, did] of Object.entries(dids)) {
    const file = join(dir, `${role}.car`)
    let bytes = 0
    let v = { verified: false, records: 0, collections: {} as Record<string, number> }
    await exportRepo({ ...ctx, json: true, out: (l) => (bytes = JSON.parse(l).bytes) }, did, file)
    await verifyCar({ ...ctx, json: true, out: (l) => (v = JSON.parse(l)) }, file, {})
    exports.push({ role, file, bytes, records: v.records, verified: v.verified })
    const counts = Object.entries(v.collections)
      .map(([c, n]) => `${c.replace(/^agent\./, '')} ${n}`)
      .join(', ')
    log(
      `repo  ${role.padEnd(10)} ${ctx.paint('green', 'verified')}  ${v.records} records (${counts}), ${bytes} bytes`,
    )
  }
  const ms = Date.now() - t0
  if (ctx.json)
    ctx.out(JSON.stringify({ agents: dids, tasks: states, handoff: seen.handoff, exports, ms }, null, 2))
  else log(`done in ${(ms / 1000).toFixed(1)} s; repos exported to ${dir}`)
}
