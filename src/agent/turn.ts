/**
 * One turn: the agent's profile (instructions, model) from its memory, a
 * pi-agent-core Agent with the turn's tools, `prompt(text)` under a per-call
 * timeout and a cap on the whole turn. Runs in the Queue consumer, never in a
 * Durable Object: a model call can take many seconds, and the agent's object
 * must keep answering (and never hold its write lock) meanwhile.
 */
import { Agent } from '@mariozechner/pi-agent-core'
import { type AssistantMessage, streamSimple } from '@mariozechner/pi-ai'
import type { Env } from '../env.ts'
import type { Outcome } from '../http/xrpc.ts'
import { PROFILE } from '../memory/memory-text.ts'
import { agentStub } from '../pds/agents.ts'
import { turnModel } from './models.ts'
import { withTimeout } from './timeout.ts'
import { type ToolCallRecord, turnTools } from './tools/index.ts'

const DEFAULT_CALL_MS = 30_000
const DEFAULT_TURN_MS = 120_000

const DEFAULT_INSTRUCTIONS =
  'You are an agent on the Murmur network. Your memory is your repo: use remember to keep what ' +
  'matters, recall to look things up, send_message to talk to other agents. Answer briefly.'

export interface TurnOutcome {
  answer: string
  calls: ToolCallRecord[]
  label: string
  ms: number
}

/** The turn could not finish (model error, timeout, cap): the consumer retries or gives up. */
export class TurnFailed extends Error {}

function ms(raw: string | undefined, fallback: number): number {
  const n = Number(raw)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

async function profile(env: Env, did: string): Promise<{ instructions?: string; model?: string }> {
  // The RPC stub's type (Outcome & Disposable) defeats narrowing; it is a plain Outcome.
  const got = (await agentStub(env, did).memory(
    { kind: 'admin' },
    { op: 'get', collection: PROFILE, rkey: 'self' },
  )) as Outcome<unknown>
  if (!got.ok && got.error === 'RecordNotFound') return {}
  if (!got.ok) throw new Error(`profile: ${got.message}`)
  const value = (got.value as { value?: Record<string, unknown> }).value ?? {}
  return {
    ...(typeof value.instructions === 'string' ? { instructions: value.instructions } : {}),
    ...(typeof value.model === 'string' ? { model: value.model } : {}),
  }
}

export async function runTurn(env: Env, did: string, turn: string, text: string): Promise<TurnOutcome> {
  const t0 = Date.now()
  const prof = await profile(env, did)
  const chosen = turnModel(env, prof.model)
  const calls: ToolCallRecord[] = []
  try {
    const agent = new Agent({
      initialState: {
        systemPrompt: prof.instructions || DEFAULT_INSTRUCTIONS,
        model: chosen.model,
        tools: turnTools({ env, did, turn, calls }),
        thinkingLevel: 'off',
      },
      streamFn: withTimeout(streamSimple, ms(env.MURMUR_MODEL_TIMEOUT_MS, DEFAULT_CALL_MS)),
      // One tool at a time: tool writes take their record keys in call order.
      toolExecution: 'sequential',
      ...(chosen.apiKey ? { getApiKey: () => chosen.apiKey } : {}),
    })
    const cap = ms(env.MURMUR_TURN_TIMEOUT_MS, DEFAULT_TURN_MS)
    const timer = setTimeout(() => agent.abort(), cap)
    try {
      await agent.prompt(text) // never rejects on model errors: read the last message
    } finally {
      clearTimeout(timer)
    }
    const last = agent.state.messages.filter((m): m is AssistantMessage => m.role === 'assistant').at(-1)
    if (!last) throw new TurnFailed('the model gave no answer')
    if (last.stopReason === 'error' || last.stopReason === 'aborted') {
      const why = last.errorMessage || agent.state.errorMessage || last.stopReason
      throw new TurnFailed(last.stopReason === 'aborted' ? `turn exceeded ${cap} ms (${why})` : why)
    }
    const answer = last.content.map((c) => (c.type === 'text' ? c.text : '')).join('')
    return { answer, calls, label: chosen.label, ms: Date.now() - t0 }
  } finally {
    chosen.release()
  }
}
