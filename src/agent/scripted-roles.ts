/**
 * The offline scripted model's roles: deterministic plays for the demo's
 * planner, researcher and writer, and a plain agent. A script is a pure
 * function of what woke the turn and the tool results so far: it names the
 * next tool call, or says the final answer. A retried turn therefore makes
 * exactly the same calls (and lands on the same record keys).
 *
 * The plays (uris and cids come from the tools' `details`):
 *   planner, prompted with a goal: list_agents(researcher) → request_task;
 *   planner, on a completed research task: get_record(request) →
 *     list_agents(writer) → request_task(write) → handoff(task, context);
 *   planner, on a completed writing task: get_record(request) → remember;
 *   researcher, on a task: update_task(working) → recall → remember →
 *     update_task(completed, result, artifacts);
 *   writer, on a task: update_task(working); on a handoff: get_record of the
 *     task and each context ref (each proven) → update_task(completed).
 *   anyone: "Remember X", "Tell <who> X", a question → recall; a question
 *     in a message → recall, then send_message the answer back.
 */
import { scriptedCall } from './scripted-prompt.ts'

export type Role = 'planner' | 'researcher' | 'writer'

export interface ScriptInput {
  role: Role | null
  prompt: string
  /** The proven inbox item that woke the turn. */
  item?: { uri: string; collection: string; sender: string; record: Record<string, unknown> }
}

export interface ToolOutcome {
  name: string
  text: string
  details: Record<string, unknown>
  isError: boolean
}

export type Step = { call: string; args: Record<string, unknown> } | { say: string }

type Rec = Record<string, unknown>
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const rec = (v: unknown): Rec => (v && typeof v === 'object' ? (v as Rec) : {})

/** The role an agent plays on the script, from its profile's skills. */
export function roleOf(skills: readonly string[] | undefined): Role | null {
  for (const s of skills ?? []) {
    const k = s.toLowerCase()
    if (k === 'planner' || k === 'researcher' || k === 'writer') return k
  }
  return null
}

const RESEARCH = 'Research: '
const WRITE = 'Write: '
const MAX_CONTEXT_READS = 5
const ANSWER = 'Answer: '

function firstAgent(out: ToolOutcome | undefined): { did: string; handle: string } | null {
  const agents = rec(out?.details).agents
  const a = Array.isArray(agents) ? rec(agents[0]) : null
  return a && str(a.did) ? { did: str(a.did), handle: str(a.handle) || str(a.did) } : null
}

function plannerOnGoal(input: ScriptInput, r: ToolOutcome[]): Step {
  const goal = input.prompt.replace(/^goal:\s*/i, '').trim()
  if (r.length === 0) return { call: 'list_agents', args: { skill: 'researcher' } }
  const researcher = firstAgent(r[0])
  if (!researcher) return { say: 'There is no researcher on the network to ask.' }
  if (r.length === 1)
    return { call: 'request_task', args: { to: researcher.did, task: `${RESEARCH}${goal}` } }
  return { say: `Asked ${researcher.handle} to research "${goal}" (${str(r[1]!.details.uri)}).` }
}

function plannerOnResponse(item: NonNullable<ScriptInput['item']>, r: ToolOutcome[]): Step {
  const state = str(item.record.state)
  const request = str(rec(item.record.request).uri)
  if (state !== 'completed') return { say: `Noted: ${request} is ${state || 'updated'}.` }
  if (r.length === 0) return { call: 'get_record', args: { uri: request } }
  const task = str(rec(r[0]!.details.value).task)
  const result = str(rec(item.record.result).text)
  if (task.startsWith(WRITE)) {
    const goal = task.slice(WRITE.length)
    if (r.length === 1)
      return { call: 'remember', args: { text: `Goal done: ${goal}. The writer's result: ${result}` } }
    return { say: `Goal done: "${goal}".` }
  }
  if (!task.startsWith(RESEARCH)) return { say: `Noted: ${request} is completed.` }
  const goal = task.slice(RESEARCH.length)
  if (r.length === 1) return { call: 'list_agents', args: { skill: 'writer' } }
  const writer = firstAgent(r[1])
  if (!writer) return { say: 'There is no writer on the network to hand off to.' }
  if (r.length === 2)
    return { call: 'request_task', args: { to: writer.did, task: `${WRITE}${goal}`, context: [item.uri] } }
  if (r.length === 3) {
    const artifacts = Array.isArray(item.record.artifacts) ? item.record.artifacts : []
    const refs = artifacts.map((a) => str(rec(a).uri)).filter(Boolean)
    return {
      call: 'handoff',
      args: {
        to: writer.did,
        summary: `The research on "${goal}" is done: ${result}\nWrite it up and complete the task.`,
        task: str(r[2]!.details.uri),
        context: [request, item.uri, ...refs],
        reason: 'Writing is the writer’s part.',
      },
    }
  }
  return { say: `Handed "${goal}" to ${writer.handle} with the research.` }
}

function researcher(item: NonNullable<ScriptInput['item']>, r: ToolOutcome[]): Step {
  const task = str(item.record.task)
  const topic = task.startsWith(RESEARCH) ? task.slice(RESEARCH.length) : task
  if (r.length === 0) return { call: 'update_task', args: { request: item.uri, state: 'working' } }
  if (r.length === 1) return { call: 'recall', args: { query: topic } }
  const known = r[1]!.text === 'nothing found' ? 'nothing yet' : r[1]!.text.replace(/\n/g, '; ')
  const findings =
    `Findings on "${topic}": on record: ${known}. To settle: scope, audience and sources. ` +
    '(The offline scripted model consulted no outside sources.)'
  if (r.length === 2) return { call: 'remember', args: { text: findings } }
  if (r.length === 3) {
    const note = str(r[2]!.details.uri)
    const args = { request: item.uri, state: 'completed', result: findings, artifacts: note ? [note] : [] }
    return { call: 'update_task', args }
  }
  return { say: `Researched "${topic}" and completed ${item.uri}.` }
}

function writerOnHandoff(item: NonNullable<ScriptInput['item']>, r: ToolOutcome[]): Step {
  const task = str(rec(item.record.task).uri)
  if (!task) return { say: 'Read the handoff; it names no task to complete.' }
  const context = (Array.isArray(item.record.context) ? item.record.context : [])
    .map((c) => str(rec(c).uri))
    .filter(Boolean)
    .slice(0, MAX_CONTEXT_READS)
  const reads = [task, ...context]
  if (r.length < reads.length) return { call: 'get_record', args: { uri: reads[r.length] } }
  if (r.length === reads.length) {
    const values = r.slice(0, reads.length).map((o) => rec(o.details.value))
    const goal = str(values[0]!.task).replace(WRITE, '')
    const research = values
      .map((v) => str(rec(v.result).text))
      .filter(Boolean)
      .join(' ')
    const result =
      `${goal}\n\n${research || 'No research came with the handoff.'}\n\n` +
      `Sources (each proven against its signed repo): ${context.join(' ')}`
    return { call: 'update_task', args: { request: task, state: 'completed', result, artifacts: context } }
  }
  return { say: `Wrote up ${task} from ${context.length} verified records.` }
}

/** A question in a message gets an answer from memory, sent back to its sender. */
function answerMessage(item: NonNullable<ScriptInput['item']>, r: ToolOutcome[]): Step {
  const text = str(rec(item.record.content).text).trim()
  // An answer is never answered: two scripted agents must not talk forever.
  const question = !text.startsWith(ANSWER) && (text.endsWith('?') || scriptedCall(text)?.name === 'recall')
  if (!question) return { say: `Noted: ${text}` }
  if (r.length === 0) return { call: 'recall', args: { query: text } }
  if (r.length === 1) {
    const answer =
      r[0]!.text === 'nothing found' ? 'I have nothing on that.' : r[0]!.text.replace(/\n/g, '; ')
    return { call: 'send_message', args: { to: item.sender, text: `${ANSWER}${answer}` } }
  }
  return { say: `Answered ${item.sender}.` }
}

function onPrompt(prompt: string, r: ToolOutcome[]): Step {
  if (r.length === 0) {
    const call = scriptedCall(prompt)
    return call ? { call: call.name, args: call.args } : { say: `Noted: ${prompt.trim()}` }
  }
  const last = r[r.length - 1]!
  if (last.name === 'recall') return { say: `From memory: ${last.text}` }
  return { say: `Done: ${last.text}` }
}

/** The next step of the script. A failed tool ends the turn with what went wrong. */
export function nextStep(input: ScriptInput, results: ToolOutcome[]): Step {
  const failed = results.at(-1)
  if (failed?.isError) return { say: `The ${failed.name} tool failed: ${failed.text}` }
  const { item, role } = input
  if (!item)
    return role === 'planner' && !scriptedCall(input.prompt)
      ? plannerOnGoal(input, results)
      : onPrompt(input.prompt, results)
  if (item.collection === 'agent.comms.response' && role === 'planner')
    return plannerOnResponse(item, results)
  if (item.collection === 'agent.comms.request' && role === 'researcher') return researcher(item, results)
  if (item.collection === 'agent.comms.request' && role === 'writer' && results.length === 0)
    return { call: 'update_task', args: { request: item.uri, state: 'working' } }
  if (item.collection === 'agent.comms.handoff' && role === 'writer') return writerOnHandoff(item, results)
  if (item.collection === 'agent.comms.message') return answerMessage(item, results)
  if (results.length) return { say: `Done: ${results.at(-1)!.text}` }
  return { say: `Noted: ${input.prompt.split('\n')[0]}` }
}
