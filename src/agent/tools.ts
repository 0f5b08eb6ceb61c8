/**
 * The tools a turn's model may call: `remember`, `recall`, `send_message`.
 * Every write goes through the agent's one write path (the AgentDO's `write`
 * with admin auth: the turn runs for the agent, on the operator's Worker), at
 * a record key derived from the turn id and the write's step, so a retried
 * turn that makes the same calls finds its records written and writes nothing.
 */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { type Static, Type } from '@mariozechner/pi-ai'
import type { Env } from '../env.ts'
import { unwrap } from '../http/xrpc.ts'
import { NOTE } from '../memory/memory-text.ts'
import { agentStub, resolveRepo } from '../pds/agents.ts'
import { stepRkey } from './turn-ids.ts'

const ADMIN = { kind: 'admin' } as const
const MESSAGE = 'agent.comms.message'

/** One tool call as the turn's note records it. */
export interface ToolCallRecord {
  tool: string
  args: Record<string, unknown>
  /** Records the call wrote. */
  uris: string[]
  error?: string
}

export interface ToolContext {
  env: Env
  did: string
  turn: string
  /** Filled in as tools run, in order. */
  calls: ToolCallRecord[]
}

/** How many texts `recall` hands the model. */
const RECALL_TOP = 3

/**
 * Create `record` at the turn's next step key, unless a previous attempt of the
 * turn already did: then the record there is kept as it is.
 */
async function createOnce(ctx: ToolContext, collection: string, record: Record<string, unknown>) {
  const rkey = stepRkey(ctx.turn, ctx.calls.length + 1)
  const stub = agentStub(ctx.env, ctx.did)
  const uri = `at://${ctx.did}/${collection}/${rkey}`
  const existing = await stub.getRecord(collection, rkey)
  if (existing.ok) return uri
  // swapRecord null: "must not exist", so two racing attempts cannot both write.
  unwrap(await stub.write(ADMIN, [{ action: 'create', collection, rkey, record, swapRecord: null }]))
  return uri
}

/** Run a tool body and record the call (with what it wrote, or why it failed). */
async function recorded<T>(
  ctx: ToolContext,
  tool: string,
  args: Record<string, unknown>,
  body: () => Promise<{ text: string; uris: string[]; details: T }>,
) {
  const entry: ToolCallRecord = { tool, args, uris: [] }
  try {
    const out = await body()
    entry.uris = out.uris
    ctx.calls.push(entry)
    return { content: [{ type: 'text' as const, text: out.text }], details: out.details }
  } catch (err) {
    entry.error = err instanceof Error ? err.message : String(err)
    ctx.calls.push(entry)
    throw err // pi-agent-core turns a throw into an error tool result the model sees
  }
}

const RememberParams = Type.Object({ text: Type.String({ description: 'What to remember, as a sentence' }) })
const RecallParams = Type.Object({ query: Type.String({ description: 'What to look for in memory' }) })
const SendParams = Type.Object({
  to: Type.String({ description: "The recipient agent's DID or handle" }),
  text: Type.String({ description: 'The message' }),
})

export function turnTools(ctx: ToolContext): AgentTool[] {
  const remember: AgentTool<typeof RememberParams> = {
    name: 'remember',
    label: 'Remember',
    description: 'Write a note into your long-term memory (agent.memory.note).',
    parameters: RememberParams,
    execute: (_id, p: Static<typeof RememberParams>) =>
      recorded(ctx, 'remember', p, async () => {
        const record = {
          $type: NOTE,
          text: p.text,
          tags: ['remembered'],
          createdAt: new Date().toISOString(),
        }
        const uri = await createOnce(ctx, NOTE, record)
        return { text: `remembered "${p.text}" at ${uri}`, uris: [uri], details: { uri } }
      }),
  }
  const recall: AgentTool<typeof RecallParams> = {
    name: 'recall',
    label: 'Recall',
    description: `Search your memory; returns the ${RECALL_TOP} best matches.`,
    parameters: RecallParams,
    execute: (_id, p: Static<typeof RecallParams>) =>
      recorded(ctx, 'recall', p, async () => {
        const found = unwrap(
          await agentStub(ctx.env, ctx.did).memory(ADMIN, {
            op: 'search',
            query: { q: p.query, limit: RECALL_TOP },
          }),
        ) as { results: { uri: string; value: { text?: unknown } }[] }
        const texts = found.results
          .map((r) => (typeof r.value?.text === 'string' ? r.value.text : ''))
          .filter(Boolean)
        return {
          text: texts.length ? texts.join('\n') : 'nothing found',
          uris: [],
          details: { uris: found.results.map((r) => r.uri) },
        }
      }),
  }
  const send: AgentTool<typeof SendParams> = {
    name: 'send_message',
    label: 'Send message',
    description: 'Send a text message (agent.comms.message) to another agent on the network.',
    parameters: SendParams,
    execute: (_id, p: Static<typeof SendParams>) =>
      recorded(ctx, 'send_message', p, async () => {
        const recipient = await resolveRepo(ctx.env, p.to.replace(/^@/, ''))
        const record = {
          $type: MESSAGE,
          sender: ctx.did,
          recipient,
          content: { $type: 'agent.comms.defs#textContent', kind: 'text', text: p.text },
          createdAt: new Date().toISOString(),
        }
        const uri = await createOnce(ctx, MESSAGE, record)
        return { text: `sent to ${recipient} as ${uri}`, uris: [uri], details: { uri } }
      }),
  }
  return [remember, recall, send] as AgentTool[]
}
