/** Talking to other agents: `send_message` (to one) and `broadcast` (to DIDs, handles and topics). */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { Type } from '@mariozechner/pi-ai'
import { isHandle, normalizeHandle } from '../../atproto/syntax/index.ts'
import type { Env } from '../../env.ts'
import { agentDid, createOnce, defineTool, list, now, type ToolContext, text, textContent } from './shared.ts'

const MESSAGE = 'agent.comms.message'
const BROADCAST = 'agent.comms.broadcast'
/** The lexicon's bound on a broadcast's audience. */
const MAX_AUDIENCE = 100

const SendParams = Type.Object({
  to: Type.String({ description: "The recipient agent's DID or handle" }),
  text: Type.String({ description: 'The message' }),
})

const BroadcastParams = Type.Object({
  text: Type.String({ description: 'The message' }),
  audience: Type.Optional(
    Type.Array(Type.String(), {
      description: 'Who it is for: agent DIDs or handles, and #topic tags (every subscriber of the topic)',
    }),
  ),
  topic: Type.Optional(Type.String({ description: 'What it is about, as a topic tag' })),
})

/** A tag as topics are stored: without the # a model likes to write. */
function tag(raw: string, field: string): string {
  const t = raw.trim().replace(/^#/, '')
  if (!t) throw new Error(`${field}: a topic tag must not be empty`)
  return t
}

/**
 * Audience entries as the lexicon has them: a DID names one agent, anything
 * else is a topic tag. `#x` is always a tag; a handle is resolved to its DID
 * (an unknown one is an error, not a tag nobody follows); a bare word is a tag.
 */
async function audienceOf(env: Env, entries: string[]): Promise<string[]> {
  if (entries.length > MAX_AUDIENCE) throw new Error(`audience: at most ${MAX_AUDIENCE} entries`)
  const out: string[] = []
  for (const [i, raw] of entries.entries()) {
    const e = raw.trim().replace(/^@/, '')
    const field = `audience[${i}]`
    let entry: string
    if (e.startsWith('#')) entry = tag(e, field)
    else if (e.startsWith('did:') || (e.includes('.') && isHandle(normalizeHandle(e))))
      entry = await agentDid(env, e, field)
    else entry = tag(e, field)
    if (!out.includes(entry)) out.push(entry)
  }
  return out
}

export function messagingTools(ctx: ToolContext): AgentTool[] {
  const send = defineTool(
    ctx,
    'send_message',
    'Send message',
    'Send a text message (agent.comms.message) to another agent on the network.',
    SendParams,
    async (p) => {
      const recipient = await agentDid(ctx.env, p.to)
      const record = {
        $type: MESSAGE,
        sender: ctx.did,
        recipient,
        content: textContent(text(p.text, 'text')),
        createdAt: now(),
      }
      const { uri, cid } = await createOnce(ctx, MESSAGE, record)
      return { text: `sent to ${recipient} as ${uri}`, uris: [uri], details: { uri, cid, recipient } }
    },
  )
  const broadcast = defineTool(
    ctx,
    'broadcast',
    'Broadcast',
    'Send a text message to many agents at once (agent.comms.broadcast): to the agents named in ' +
      'audience, and to every agent subscribed to its #topic tags or its topic.',
    BroadcastParams,
    async (p) => {
      const audience = await audienceOf(ctx.env, list(p.audience, 'audience'))
      const topic = p.topic === undefined ? undefined : tag(p.topic, 'topic')
      if (audience.length === 0 && topic === undefined)
        throw new Error('broadcast needs an audience or a topic: nobody would receive it')
      const record = {
        $type: BROADCAST,
        sender: ctx.did,
        content: textContent(text(p.text, 'text')),
        ...(audience.length ? { audience } : {}),
        ...(topic !== undefined ? { topic } : {}),
        createdAt: now(),
      }
      const { uri, cid } = await createOnce(ctx, BROADCAST, record)
      const to = [...audience, ...(topic !== undefined ? [`topic ${topic}`] : [])].join(', ')
      return { text: `broadcast to ${to} as ${uri}`, uris: [uri], details: { uri, cid, audience, topic } }
    },
  )
  return [send, broadcast] as AgentTool[]
}
