/**
 * What a turn's model sees, kept bounded:
 *   - a pinned block after the instructions in the system prompt, built once
 *     per turn: who the agent is (its profile), what it did lately (its
 *     latest turn notes: the thread so far) and what its memory holds on the
 *     prompt (search results), each cut to a budget;
 *   - before every model call (pi-agent-core's `transformContext`), the
 *     turn's own messages, with the oldest tool results and answers compacted
 *     once the whole passes the budget. The prompt and the latest exchanges
 *     stay whole, and no message is dropped, so every tool call keeps its
 *     result (providers reject one without the other).
 * Nothing is written back: the state keeps the full turn for its note.
 */
import type { AgentMessage } from '@mariozechner/pi-agent-core'
import type { Message } from '@mariozechner/pi-ai'
import type { Env } from '../env.ts'
import type { Outcome } from '../http/xrpc.ts'
import { NOTE } from '../memory/memory-text.ts'
import { agentStub } from '../pds/agents.ts'
import type { Profile } from './profile.ts'

/** Characters of turn messages kept whole before the oldest are compacted (~6k tokens). */
export const TURN_BUDGET = 24_000
/** Characters of the pinned block's thread and memory parts, each. */
const PINNED_PART = 4_000
/** Latest turn notes shown as the thread, and memories shown for the prompt. */
const RECENT_NOTES = 5
const MEMORIES = 3
/** Messages at the end of the turn never compacted. */
const KEEP_LATEST = 4

const ADMIN = { kind: 'admin' } as const

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** The characters a message counts for the budget: texts, thinking and tool call arguments. */
export function messageSize(m: Message): number {
  if (typeof m.content === 'string') return m.content.length
  let n = 0
  for (const c of m.content) {
    if (c.type === 'text') n += c.text.length
    else if (c.type === 'toolCall') n += JSON.stringify(c.arguments).length
    else if (c.type === 'thinking') n += c.thinking.length
  }
  return n
}

/** Shorten one message to a stub that keeps its role, tool call ids and structure. */
function compact(m: Message): Message {
  if (m.role === 'toolResult')
    return {
      ...m,
      content: [{ type: 'text', text: `[compacted: ${messageSize(m)} characters of ${m.toolName} output]` }],
    }
  if (m.role === 'assistant')
    return {
      ...m,
      content: m.content.map((c) =>
        c.type === 'text'
          ? { ...c, text: clip(c.text, 200) }
          : c.type === 'thinking'
            ? { ...c, thinking: '' }
            : c,
      ),
    }
  return m
}

/**
 * The turn's messages within `budget` characters: the first (the prompt) and
 * the last KEEP_LATEST stay whole; the oldest of the rest are compacted first.
 */
export function boundMessages(messages: AgentMessage[], budget = TURN_BUDGET): AgentMessage[] {
  const msgs = messages as Message[]
  let total = msgs.reduce((n, m) => n + messageSize(m), 0)
  if (total <= budget) return messages
  const out = [...msgs]
  for (let i = 1; i < out.length - KEEP_LATEST && total > budget; i++) {
    const before = messageSize(out[i]!)
    const stub = compact(out[i]!)
    // A stub longer than what it stands for (a tiny tool result) would only grow the turn.
    if (messageSize(stub) >= before) continue
    out[i] = stub
    total -= before - messageSize(stub)
  }
  return out
}

type Notes = Outcome<{ records: { uri: string; value: { text?: unknown; tags?: unknown } }[] }>
type Found = Outcome<{ results: { uri: string; value: { text?: unknown } }[] }>

/** What the agent did lately and what its memory holds on the prompt: the pinned block's reads, at once. */
export async function recentContext(env: Env, did: string, prompt: string, turn: string): Promise<string[]> {
  const stub = agentStub(env, did)
  const [notes, found] = (await Promise.all([
    stub.listRecords(NOTE, { limit: RECENT_NOTES + 1, reverse: true }),
    stub.memory(ADMIN, { op: 'search', query: { q: clip(prompt, 500), limit: MEMORIES } }),
  ])) as [Notes, Found]
  const parts: string[] = []
  if (notes.ok) {
    const thread = notes.value.records
      .filter(
        (r) => !r.uri.endsWith(`/${turn}`) && Array.isArray(r.value.tags) && r.value.tags.includes('turn'),
      )
      .slice(0, RECENT_NOTES)
      .reverse()
      .map((r) => clip(String(r.value.text ?? ''), 800))
    if (thread.length)
      parts.push(clip(`Your latest turns, oldest first:\n${thread.join('\n---\n')}`, PINNED_PART))
  }
  if (found.ok) {
    const memories = found.value.results
      .filter((r) => typeof r.value?.text === 'string' && !r.uri.endsWith(`/${turn}`))
      .map((r) => `- ${clip(r.value.text as string, 500)} (${r.uri})`)
    if (memories.length) parts.push(clip(`From your memory:\n${memories.join('\n')}`, PINNED_PART))
  }
  return parts
}

/** The pinned block: who the agent is, then the recent context. */
export function pinnedContext(did: string, profile: Profile, recent: string[]): string {
  const who = [
    `You are ${profile.displayName ?? 'an agent'} (${did}) on the Murmur network.`,
    profile.description ? `Your role: ${profile.description}` : '',
    profile.skills?.length ? `Your skills: ${profile.skills.join(', ')}` : '',
  ].filter(Boolean)
  return [who.join('\n'), ...recent].join('\n\n')
}

/** The `transformContext` of a turn. */
export function turnContext(budget = TURN_BUDGET) {
  return async (messages: AgentMessage[]): Promise<AgentMessage[]> => boundMessages(messages, budget)
}
