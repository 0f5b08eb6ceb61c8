/**
 * One turn: the agent's profile (instructions, model, tools, skills) from its
 * memory, the proven inbox item that woke it (if any), a pi-agent-core Agent
 * with the enabled tools and a bounded context (context.ts), `prompt(text)`
 * under a per-call timeout and a cap on the whole turn. Runs in the Queue consumer, never in a
 * Durable Object: a model call can take many seconds, and the agent's object
 * must keep answering (and never hold its write lock) meanwhile.
 */
import { Agent } from '@mariozechner/pi-agent-core'
import { type AssistantMessage, streamSimple } from '@mariozechner/pi-ai'
import { provenAt } from '../comms/delivery.ts'
import type { Env } from '../env.ts'
import { pinnedContext, recentContext, turnContext } from './context.ts'
import { turnModel } from './models.ts'
import { loadProfile } from './profile.ts'
import { roleOf, type ScriptInput } from './scripted-roles.ts'
import { withTimeout } from './timeout.ts'
import { type ToolCallRecord, turnTools } from './tools/index.ts'
import type { TurnMessage } from './turn-queue.ts'

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

/** The record that woke the turn, proven against its repo (null if it is gone since). */
async function wakingItem(env: Env, m: TurnMessage): Promise<ScriptInput['item']> {
  if (!m.item) return undefined
  const { record } = await provenAt(env, m.item.uri)
  return { uri: m.item.uri, collection: m.item.collection, sender: m.item.sender, record: record ?? {} }
}

export async function runTurn(env: Env, m: TurnMessage): Promise<TurnOutcome> {
  const t0 = Date.now()
  const { did, turn, text } = m
  // Independent reads, at once: they are most of a scripted turn's time.
  const [prof, item, recent] = await Promise.all([
    loadProfile(env, did),
    wakingItem(env, m),
    recentContext(env, did, text, turn),
  ])
  const pinned = pinnedContext(did, prof, recent)
  const chosen = turnModel(env, prof.model, {
    role: roleOf(prof.skills),
    prompt: text,
    ...(item ? { item } : {}),
  })
  const calls: ToolCallRecord[] = []
  try {
    const agent = new Agent({
      initialState: {
        systemPrompt: `${prof.instructions || DEFAULT_INSTRUCTIONS}\n\n${pinned}`,
        model: chosen.model,
        tools: turnTools({ env, did, turn, calls }, prof.tools),
        thinkingLevel: 'off',
      },
      transformContext: turnContext(),
      // The Queue retries a failed turn with backoff; an SDK retrying inside the call's timer as well
      // would triple a failing provider's calls (and bills), so it does not.
      streamFn: withTimeout(
        (model, context, options) => streamSimple(model, context, { ...options, maxRetries: 0 }),
        ms(env.MURMUR_MODEL_TIMEOUT_MS, DEFAULT_CALL_MS),
      ),
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
