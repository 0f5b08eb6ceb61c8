/**
 * Waking on the inbox: an accepted inbox item becomes a turn of the agent it
 * was addressed to. Only agents with an `agent.memory.profile` wake (an agent
 * without one is a mailbox: a person, a test, a service reading its inbox).
 *
 * The turn row is created in the same synchronous stretch as the inbox row
 * (no await between them), so the two commit together; its trigger is the
 * item's uri and cid, so one item makes one turn however often it is
 * delivered. The Queue message is sent after; if that send fails, the
 * delivery fails and is retried, and the retry sends again for a turn that
 * never started.
 */
import type { InboxItem } from '../comms/inbox.ts'
import type { Env } from '../env.ts'
import { newTurnId } from './turn-ids.ts'
import type { TurnMessage } from './turn-queue.ts'
import type { AgentTurns } from './turns.ts'

/** Inbox turns an agent may start per minute: two agents answering each other cannot run away. */
export const WAKE_LIMIT_PER_MINUTE = 30

/** Longest text of an item quoted into the prompt; the turn can read the rest with get_record. */
const MAX_QUOTE = 4000

type Rec = Record<string, unknown>

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

function quote(text: string): string {
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}… (truncated)` : text
}

/** The words of a content union (text, json, ref or blob). */
function contentText(content: unknown): string {
  const c = (content ?? {}) as Rec
  if (typeof c.text === 'string') return quote(c.text)
  if (c.data !== undefined) return quote(JSON.stringify(c.data))
  if (typeof c.uri === 'string') return `(a link to ${c.uri})`
  if (c.blob) return '(a file)'
  return ''
}

function refList(refs: unknown): string[] {
  if (!Array.isArray(refs)) return []
  return refs.map((r) => str((r as Rec)?.uri)).filter((u): u is string => !!u)
}

/** The turn's prompt for an inbox item: who sent what, with the uris the tools take. */
export function inboxPrompt(item: Pick<InboxItem, 'uri' | 'cid' | 'collection' | 'sender' | 'record'>) {
  const r = item.record
  const from = item.sender
  switch (item.collection) {
    case 'agent.comms.message':
      return `Message from ${from} (${item.uri}): ${contentText(r.content)}`
    case 'agent.comms.broadcast': {
      const topic = str(r.topic) ? ` on #${str(r.topic)}` : ''
      return `Broadcast from ${from}${topic} (${item.uri}): ${contentText(r.content)}`
    }
    case 'agent.comms.request': {
      const context = refList(r.context)
      const lines = [`Task request from ${from} (${item.uri}): ${quote(str(r.task) ?? '')}`]
      if (context.length) lines.push(`Context: ${context.join(' ')}`)
      return lines.join('\n')
    }
    case 'agent.comms.response': {
      const request = str((r.request as Rec | undefined)?.uri) ?? '?'
      const lines = [`Response from ${from} on task ${request}: ${str(r.state) ?? '?'}`]
      const result = contentText(r.result)
      if (result) lines.push(`Result: ${result}`)
      const artifacts = refList(r.artifacts)
      if (artifacts.length) lines.push(`Artifacts: ${artifacts.join(' ')}`)
      const error = (r.error ?? {}) as Rec
      if (str(error.message)) lines.push(`Error: ${quote(str(error.message)!)}`)
      lines.push(`(${item.uri})`)
      return lines.join('\n')
    }
    case 'agent.comms.handoff': {
      const lines = [`Handoff from ${from} (${item.uri}): ${quote(str(r.summary) ?? '')}`]
      const task = str((r.task as Rec | undefined)?.uri)
      if (task) lines.push(`Task: ${task}`)
      const context = refList(r.context)
      if (context.length) lines.push(`Context (each checked against its signed repo): ${context.join(' ')}`)
      if (str(r.reason)) lines.push(`Reason: ${quote(str(r.reason)!)}`)
      return lines.join('\n')
    }
    default:
      return `A ${item.collection} record from ${from}: ${item.uri}`
  }
}

export interface WakeHost {
  env: Env
  turns: AgentTurns
  did: string
  /** Does the agent have a profile (and so a runtime)? */
  hasProfile(): boolean
  /** Arm the sweep that sends the turn again if its message is lost (turn-sweep.ts). */
  arm(): Promise<void>
}

/**
 * Create (synchronously) the turn for an accepted item and return the send to
 * make after, or null when the agent does not wake for it.
 */
export function wakeFor(host: WakeHost, item: InboxItem): (() => Promise<void>) | null {
  if (item.sender === host.did || !host.hasProfile()) return null
  const trigger = `${item.uri}@${item.cid}`
  const id = newTurnId()
  const text = inboxPrompt(item)
  if (host.turns.recentInboxTurns(60_000) >= WAKE_LIMIT_PER_MINUTE && !host.turns.byTrigger(trigger)) {
    console.warn('wake: over the limit, not waking', host.did, item.uri)
    return null
  }
  const row = host.turns.call({ op: 'create', id, text, source: 'inbox', trigger })
  // A redelivered item whose turn already started (or finished) is not sent again.
  if (row.id !== id && (row.state !== 'queued' || row.attempts > 0)) return null
  const { uri, cid, collection, sender } = item
  const message: TurnMessage = { did: host.did, turn: row.id, text: row.text, source: 'inbox' }
  message.item = { uri, cid, collection, sender }
  return async () => {
    await host.env.TURNS.send(message)
    await host.arm()
  }
}
