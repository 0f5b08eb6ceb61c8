/**
 * Work between agents: `request_task` (ask one agent to do something),
 * `update_task` (report a task's state, as its worker or its sender) and
 * `handoff` (pass work and its context on). Every record cited is cited at the
 * CID its repo's signed commit proves now, so the receiver's checks pass.
 */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { Type } from '@mariozechner/pi-ai'
import { HANDOFF } from '../../comms/handoff.ts'
import { REQUEST, RESPONSE } from '../../comms/tasks.ts'
import { lexicons } from '../../lexicons.ts'
import {
  agentDid,
  createOnce,
  defineTool,
  list,
  now,
  provenRef,
  provenRefs,
  type ToolContext,
  text,
  textContent,
} from './shared.ts'

/** agent.comms.defs#taskState's known values, read from the lexicon itself. */
const TASK_STATES: readonly string[] = (() => {
  const def = lexicons.getDef('agent.comms.defs#taskState') as { knownValues?: string[] } | undefined
  if (!def?.knownValues?.length) throw new Error('agent.comms.defs#taskState has no knownValues')
  return def.knownValues
})()

const uris = (description: string) => Type.Optional(Type.Array(Type.String(), { description }))

const RequestParams = Type.Object({
  to: Type.String({ description: 'The agent asked to do it: a DID or handle' }),
  task: Type.String({ description: 'What to do, in words (at most 512 characters)' }),
  context: uris('at:// uris of records the task relies on'),
  priority: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 5, description: '1 (lowest) to 5 (most urgent)' }),
  ),
})

const UpdateParams = Type.Object({
  request: Type.String({ description: 'The at:// uri of the agent.comms.request' }),
  state: Type.String({ description: `The task's state now: one of ${TASK_STATES.join(', ')}` }),
  result: Type.Optional(Type.String({ description: 'The outcome, in words' })),
  artifacts: uris('at:// uris of records the task produced'),
})

const HandoffParams = Type.Object({
  to: Type.String({ description: 'The agent taking over: a DID or handle' }),
  summary: Type.String({ description: 'Where things stand, in words' }),
  task: Type.Optional(Type.String({ description: 'The at:// uri of the agent.comms.request handed over' })),
  context: Type.Array(Type.String(), { description: 'at:// uris of the records the receiver needs' }),
  reason: Type.Optional(Type.String({ description: 'Why the work is handed over' })),
})

function priorityOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 5)
    throw new Error(`priority must be a whole number from 1 to 5, not ${JSON.stringify(value)}`)
  return value
}

export function taskTools(ctx: ToolContext): AgentTool[] {
  const request = defineTool(
    ctx,
    'request_task',
    'Request task',
    'Ask another agent to carry out a task (agent.comms.request). Returns the request uri and cid; ' +
      'follow it with the agent.comms.response records that cite it.',
    RequestParams,
    async (p) => {
      const assignee = await agentDid(ctx.env, p.to, 'to')
      const task = text(p.task, 'task')
      const priority = priorityOf(p.priority)
      const context = await provenRefs(ctx.env, list(p.context, 'context'), 'context')
      const record = {
        $type: REQUEST,
        sender: ctx.did,
        task,
        assignee,
        ...(context.length ? { context } : {}),
        ...(priority !== undefined ? { priority } : {}),
        createdAt: now(),
      }
      const { uri, cid } = await createOnce(ctx, REQUEST, record)
      return {
        text: `asked ${assignee} to "${task}": request ${uri} (cid ${cid})`,
        uris: [uri],
        details: { uri, cid, assignee, context },
      }
    },
  )
  const update = defineTool(
    ctx,
    'update_task',
    'Update task',
    "Report a task's state (agent.comms.response): as the agent asked to do it, or `canceled` as " +
      'the one who asked. Give a result in words when it is done.',
    UpdateParams,
    async (p) => {
      const state = text(p.state, 'state')
      if (!TASK_STATES.includes(state))
        throw new Error(`state must be one of ${TASK_STATES.join(', ')}, not ${JSON.stringify(state)}`)
      const req = await provenRef(ctx.env, p.request, 'request', REQUEST)
      const artifacts = await provenRefs(ctx.env, list(p.artifacts, 'artifacts'), 'artifacts')
      const record = {
        $type: RESPONSE,
        sender: ctx.did,
        request: req,
        state,
        ...(p.result !== undefined ? { result: textContent(text(p.result, 'result')) } : {}),
        // A closed union of strong refs and blobs: each member names its def.
        ...(artifacts.length
          ? { artifacts: artifacts.map((a) => ({ $type: 'agent.comms.defs#strongRef', ...a })) }
          : {}),
        createdAt: now(),
      }
      const { uri, cid } = await createOnce(ctx, RESPONSE, record)
      return {
        text: `task ${req.uri} is now ${state}: response ${uri}`,
        uris: [uri],
        details: { uri, cid, request: req, state, artifacts },
      }
    },
  )
  const handoff = defineTool(
    ctx,
    'handoff',
    'Hand off',
    'Hand work over to another agent (agent.comms.handoff) with the records it needs; the ' +
      'receiver verifies every record before it accepts.',
    HandoffParams,
    async (p) => {
      const recipient = await agentDid(ctx.env, p.to, 'to')
      const summary = text(p.summary, 'summary')
      const task = p.task === undefined ? undefined : await provenRef(ctx.env, p.task, 'task', REQUEST)
      const context = await provenRefs(ctx.env, list(p.context, 'context'), 'context')
      const record = {
        $type: HANDOFF,
        sender: ctx.did,
        recipient,
        summary,
        ...(task ? { task } : {}),
        context,
        ...(p.reason !== undefined ? { reason: text(p.reason, 'reason') } : {}),
        createdAt: now(),
      }
      const { uri, cid } = await createOnce(ctx, HANDOFF, record)
      return {
        text: `handed off to ${recipient} as ${uri} (${context.length} context records${task ? ' and the task' : ''})`,
        uris: [uri],
        details: { uri, cid, recipient, task, context },
      }
    },
  )
  return [request, update, handoff] as AgentTool[]
}
