/**
 * Which model an agent's turn runs on, from the Worker's settings, first match:
 * `OPENAI_BASE_URL` (any OpenAI-compatible server; `OPENAI_API_KEY` optional),
 * `ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, Workers AI when the `AI` binding is
 * there (workers-ai.ts), else the offline scripted model (scripted.ts), so a
 * network with no provider still runs turns end to end.
 * `MURMUR_MODEL` names the model at the provider. Keys are handed to pi-ai
 * explicitly (workerd has no process.env) and are never logged or recorded:
 * only the label is.
 */
import { getModels, type KnownProvider, type Model } from '@mariozechner/pi-ai'
import type { Env } from '../env.ts'
import { registerScriptedModel } from './scripted.ts'
import type { ScriptInput } from './scripted-roles.ts'
import { registerWorkersAiModel, WORKERS_AI_DEFAULT_MODEL } from './workers-ai.ts'

export const OFFLINE_LABEL = 'offline scripted model'

export interface TurnModel {
  model: Model<string>
  /** What the turn's note records: provider and model, never a key. */
  label: string
  apiKey?: string
  /** Called once the turn ends: the scripted and Workers AI providers are registered per turn. */
  release: () => void
}

const DEFAULTS = { anthropic: 'claude-sonnet-4-5', openai: 'gpt-4o-mini' } as const

/** A catalogued model by id, or the provider's default with `id` swapped in (pi-ai's catalogue lags releases). */
function catalogued(provider: KnownProvider, id: string, fallback: string): Model<string> {
  const all = getModels(provider) as Model<string>[]
  const hit = all.find((m) => m.id === id)
  if (hit) return hit
  const base = all.find((m) => m.id === fallback) ?? all[0]
  if (!base) throw new Error(`pi-ai knows no ${provider} models`)
  return { ...base, id, name: id }
}

/** An OpenAI chat-completions server at `baseUrl` (vLLM, llama.cpp, Ollama, a gateway...). */
function compatible(baseUrl: string, id: string): Model<'openai-completions'> {
  return {
    id,
    name: id,
    api: 'openai-completions',
    // Not "openai": pi-ai would then look for a key in process.env, which workerd does not have.
    provider: 'openai-compatible',
    baseUrl: baseUrl.replace(/\/$/, ''),
    reasoning: false,
    input: ['text'],
    cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    contextWindow: 32_000,
    maxTokens: 2048,
    // Local servers commonly reject these OpenAI-only fields.
    compat: { supportsStore: false, supportsDeveloperRole: false },
  }
}

/**
 * The model for one turn. A profile whose `model` is `offline` always gets the
 * scripted model, whatever the Worker is configured with.
 */
export function turnModel(
  env: Env,
  profileModel?: string,
  script: ScriptInput = { role: null, prompt: '' },
): TurnModel {
  const none = () => undefined
  if (profileModel !== 'offline') {
    if (env.OPENAI_BASE_URL) {
      const id = env.MURMUR_MODEL || 'default'
      return {
        model: compatible(env.OPENAI_BASE_URL, id),
        label: `openai-compatible:${id}`,
        // Many local servers want no key, but pi-ai's client insists on one.
        apiKey: env.OPENAI_API_KEY || 'unused',
        release: none,
      }
    }
    if (env.ANTHROPIC_API_KEY) {
      const id = env.MURMUR_MODEL || DEFAULTS.anthropic
      return {
        model: catalogued('anthropic', id, DEFAULTS.anthropic),
        label: `anthropic:${id}`,
        apiKey: env.ANTHROPIC_API_KEY,
        release: none,
      }
    }
    if (env.OPENAI_API_KEY) {
      const id = env.MURMUR_MODEL || DEFAULTS.openai
      return {
        model: catalogued('openai', id, DEFAULTS.openai),
        label: `openai:${id}`,
        apiKey: env.OPENAI_API_KEY,
        release: none,
      }
    }
    if (env.AI) {
      const id = env.MURMUR_MODEL || WORKERS_AI_DEFAULT_MODEL
      const wai = registerWorkersAiModel(env.AI, id)
      return { model: wai.model, label: `workers-ai:${id}`, release: wai.unregister }
    }
  }
  const scripted = registerScriptedModel(script)
  return { model: scripted.getModel(), label: OFFLINE_LABEL, release: () => scripted.unregister() }
}
