/**
 * What every tool shares. Each write goes through the agent's one write path
 * (the AgentDO's `write` with admin auth: the turn runs for the agent, on the
 * operator's Worker), at a record key derived from the turn id and the call's
 * step, so a retried turn that makes the same calls finds its records written
 * and writes nothing. Every call, read or write, takes one step.
 */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import type { Static, TSchema } from '@mariozechner/pi-ai'
import { isDid, isHandle, normalizeHandle } from '../../atproto/syntax/index.ts'
import { provenAt, recordAddress } from '../../comms/delivery.ts'
import type { Env } from '../../env.ts'
import { type Outcome, unwrap } from '../../http/xrpc.ts'
import type { RecordView } from '../../pds/agent-reads.ts'
import { agentStub, resolveRepo } from '../../pds/agents.ts'
import { stepRkey } from '../turn-ids.ts'

export const ADMIN = { kind: 'admin' } as const

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

export interface StrongRef {
  uri: string
  cid: string
}

/** What a tool body hands back: words for the model, the uris it wrote, data for programs. */
export interface ToolOutput {
  text: string
  uris: string[]
  details: Record<string, unknown>
}

/** A stored record as the AgentDO returns it (the RPC stub's typing loses the shape). */
export async function ownRecord(ctx: ToolContext, collection: string, rkey: string) {
  const got = (await agentStub(ctx.env, ctx.did).getRecord(collection, rkey)) as Outcome<RecordView>
  return got.ok ? got.value : null
}

/**
 * Create `record` at the turn's next step key, unless a previous attempt of the
 * turn already did: then the record there is kept as it is.
 */
export async function createOnce(
  ctx: ToolContext,
  collection: string,
  record: Record<string, unknown>,
): Promise<StrongRef> {
  const rkey = stepRkey(ctx.turn, ctx.calls.length + 1)
  // swapRecord null: "must not exist", so an earlier or racing attempt's record is never replaced.
  // Writing first spares the first attempt (nearly every one) a read.
  const out = await agentStub(ctx.env, ctx.did).write(ADMIN, [
    { action: 'create', collection, rkey, record, swapRecord: null },
  ])
  if (!out.ok) {
    // An earlier attempt of the turn wrote here: its record is this call's record.
    const earlier = await ownRecord(ctx, collection, rkey)
    if (earlier) return { uri: earlier.uri, cid: earlier.cid }
  }
  const written = unwrap(out).results[0]!
  return { uri: written.uri, cid: written.cid! }
}

/** An AgentTool whose every call is recorded in `ctx.calls` (with what it wrote, or why it failed). */
export function defineTool<P extends TSchema>(
  ctx: ToolContext,
  name: string,
  label: string,
  description: string,
  parameters: P,
  body: (p: Static<P>) => Promise<ToolOutput>,
): AgentTool<P> {
  return {
    name,
    label,
    description,
    parameters,
    execute: async (_id, p) => {
      const entry: ToolCallRecord = { tool: name, args: p as Record<string, unknown>, uris: [] }
      try {
        const out = await body(p)
        entry.uris = out.uris
        ctx.calls.push(entry)
        return { content: [{ type: 'text' as const, text: out.text }], details: out.details }
      } catch (err) {
        entry.error = err instanceof Error ? err.message : String(err)
        ctx.calls.push(entry)
        throw err // pi-agent-core turns a throw into an error tool result the model sees
      }
    },
  }
}

/** A DID or handle (a leading @ allowed) to a registered agent's DID, or a clear error. */
export async function agentDid(env: Env, who: unknown, role = 'recipient'): Promise<string> {
  if (typeof who !== 'string' || !who.trim()) throw new Error(`${role} is required (a DID or handle)`)
  const key = who.trim().replace(/^@/, '')
  if (!isDid(key) && !isHandle(normalizeHandle(key)))
    throw new Error(`${role} ${who} is neither a DID nor a handle`)
  try {
    return await resolveRepo(env, key)
  } catch {
    throw new Error(`${role} ${who} is not an agent on this network`)
  }
}

/** A required, non-empty string argument. */
export function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value.trim()) throw new Error(`${name} is required`)
  return value
}

/** A list argument (absent is empty); each entry a string. */
export function list(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new Error(`${name} must be a list of strings`)
  return value
}

/**
 * A strong ref to the record at `uri` as its repo's signed commit proves it now.
 * `collection`, when given, is the kind of record the uri must name.
 */
export async function provenRef(
  env: Env,
  uri: unknown,
  field: string,
  collection?: string,
): Promise<StrongRef> {
  if (typeof uri !== 'string') throw new Error(`${field} must be an at:// uri`)
  let cid: string | null
  try {
    const at = recordAddress(uri)
    if (collection && at.collection !== collection) throw new Error(`${uri} is not an ${collection} record`)
    cid = (await provenAt(env, uri)).cid
  } catch (err) {
    // The model needs to know which argument was wrong.
    throw new Error(`${field}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (cid === null) throw new Error(`${field}: ${uri} does not exist`)
  return { uri, cid }
}

/** Strong refs for every uri of a list, one at a time, in order. */
export async function provenRefs(env: Env, uris: string[], field: string): Promise<StrongRef[]> {
  const refs: StrongRef[] = []
  for (const [i, uri] of uris.entries()) refs.push(await provenRef(env, uri, `${field}[${i}]`))
  return refs
}

export const textContent = (value: string) => ({
  $type: 'agent.comms.defs#textContent',
  kind: 'text',
  text: value,
})

export const now = () => new Date().toISOString()
