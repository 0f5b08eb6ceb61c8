/**
 * An agent's runtime settings, from its `agent.memory.profile` record (key
 * `self`): instructions (the system prompt), model, enabled tools, and who it
 * is (name, description, skills). An agent with no profile runs on defaults.
 */
import type { Env } from '../env.ts'
import type { Outcome } from '../http/xrpc.ts'
import { PROFILE } from '../memory/memory-text.ts'
import { agentStub } from '../pds/agents.ts'

export interface Profile {
  displayName?: string
  description?: string
  instructions?: string
  model?: string
  skills?: string[]
  /** Enabled tools; absent means all. */
  tools?: string[]
}

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined

export async function loadProfile(env: Env, did: string): Promise<Profile> {
  // The RPC stub's type (Outcome & Disposable) defeats narrowing; it is a plain Outcome.
  const got = (await agentStub(env, did).memory(
    { kind: 'admin' },
    { op: 'get', collection: PROFILE, rkey: 'self' },
  )) as Outcome<unknown>
  if (!got.ok && got.error === 'RecordNotFound') return {}
  if (!got.ok) throw new Error(`profile: ${got.message}`)
  const v = (got.value as { value?: Record<string, unknown> }).value ?? {}
  const text = (k: string) => (typeof v[k] === 'string' && v[k] ? { [k]: v[k] as string } : {})
  const skills = strings(v.skills)
  const tools = strings(v.tools)
  return {
    ...text('displayName'),
    ...text('description'),
    ...text('instructions'),
    ...text('model'),
    ...(skills ? { skills } : {}),
    ...(tools ? { tools } : {}),
  }
}
