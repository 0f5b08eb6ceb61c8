/** The agent's own memory: `remember` a note, `recall` by meaning, `forget` a record. */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { Type } from '@mariozechner/pi-ai'
import { isAtUri, isDid, parseAtUri } from '../../atproto/syntax/index.ts'
import { unwrap } from '../../http/xrpc.ts'
import { INDEXED, NOTE } from '../../memory/memory-text.ts'
import { agentStub } from '../../pds/agents.ts'
import { ADMIN, createOnce, defineTool, now, ownRecord, type ToolContext, text } from './shared.ts'

/** How many texts `recall` hands the model, and the longest each may be. */
const RECALL_TOP = 3
const RECALL_CHARS = 500

const clip = (t: string) => (t.length > RECALL_CHARS ? `${t.slice(0, RECALL_CHARS)}…` : t)

const RememberParams = Type.Object({ text: Type.String({ description: 'What to remember, as a sentence' }) })
const RecallParams = Type.Object({ query: Type.String({ description: 'What to look for in memory' }) })
const ForgetParams = Type.Object({
  uri: Type.String({ description: 'The at:// uri of one of your memory records (as recall found it)' }),
})

/** The collection and key of one of the agent's own memory records, or a clear error. */
function ownMemory(ctx: ToolContext, uri: unknown): { collection: string; rkey: string } {
  if (typeof uri !== 'string' || !isAtUri(uri))
    throw new Error(`uri must be an at:// uri, not ${JSON.stringify(uri)}`)
  const at = parseAtUri(uri)
  if (!at.collection || !at.rkey) throw new Error(`${uri} does not name one record`)
  if (at.authority !== ctx.did || !isDid(at.authority))
    throw new Error(`${uri} is not in your repo: you can only forget your own memories`)
  // The profile is who the agent is, not a memory it may drop.
  if (!INDEXED.includes(at.collection))
    throw new Error(`${uri} is not a memory record (${INDEXED.join(', ')})`)
  return { collection: at.collection, rkey: at.rkey }
}

export function memoryTools(ctx: ToolContext): AgentTool[] {
  const remember = defineTool(
    ctx,
    'remember',
    'Remember',
    'Write a note into your long-term memory (agent.memory.note).',
    RememberParams,
    async (p) => {
      const record = { $type: NOTE, text: text(p.text, 'text'), tags: ['remembered'], createdAt: now() }
      const { uri, cid } = await createOnce(ctx, NOTE, record)
      return { text: `remembered "${p.text}" at ${uri}`, uris: [uri], details: { uri, cid } }
    },
  )
  const recall = defineTool(
    ctx,
    'recall',
    'Recall',
    `Search your memory; returns the ${RECALL_TOP} best matches.`,
    RecallParams,
    async (p) => {
      const found = unwrap(
        await agentStub(ctx.env, ctx.did).memory(ADMIN, {
          op: 'search',
          query: { q: text(p.query, 'query'), limit: RECALL_TOP },
        }),
      ) as { results: { uri: string; value: { text?: unknown } }[] }
      // Each text is cut: a turn's note quotes what recall gave it, and uncut, an agent answering from
      // its notes would quote ever longer notes.
      const texts = found.results
        .map((r) => (typeof r.value?.text === 'string' ? clip(r.value.text) : ''))
        .filter(Boolean)
      return {
        text: texts.length ? texts.join('\n') : 'nothing found',
        uris: [],
        details: { uris: found.results.map((r) => r.uri) },
      }
    },
  )
  const forget = defineTool(
    ctx,
    'forget',
    'Forget',
    'Delete one of your own memory records (a note, fact, decision or summary) by its uri.',
    ForgetParams,
    async (p) => {
      const { collection, rkey } = ownMemory(ctx, p.uri)
      // Absent is not an error: a retried turn finds what its first attempt forgot already gone.
      if (!(await ownRecord(ctx, collection, rkey)))
        return {
          text: `${p.uri} is not in your memory: nothing to forget`,
          uris: [],
          details: { uri: p.uri, forgotten: false },
        }
      unwrap(await agentStub(ctx.env, ctx.did).memory(ADMIN, { op: 'forget', collection, rkey }))
      return { text: `forgot ${p.uri}`, uris: [p.uri], details: { uri: p.uri, forgotten: true } }
    },
  )
  return [remember, recall, forget] as AgentTool[]
}
