/**
 * Looking around the network: `get_record` (any record, proven against its
 * repo's signed commit) and `list_agents` (who is here and what they can do).
 */
import type { AgentTool } from '@mariozechner/pi-agent-core'
import { Type } from '@mariozechner/pi-ai'
import { toPlainJson } from '../../atproto/cbor.ts'
import { provenAt } from '../../comms/delivery.ts'
import { type AgentRow, Directory } from '../../directory/directory.ts'
import type { Env } from '../../env.ts'
import type { Outcome } from '../../http/xrpc.ts'
import { PROFILE } from '../../memory/memory-text.ts'
import type { RecordView } from '../../pds/agent-reads.ts'
import { agentStub } from '../../pds/agents.ts'
import { defineTool, type ToolContext, text } from './shared.ts'

/** How much of a record's JSON the model sees. */
const MAX_VALUE_CHARS = 4000
/** Agents `list_agents` names at most, and directory rows it reads per query and in all. */
const MAX_AGENTS = 50
const SCAN_BATCH = 100
const MAX_SCANNED = 1000

const GetParams = Type.Object({ uri: Type.String({ description: 'The at:// uri of a record' }) })
const ListParams = Type.Object({
  skill: Type.Optional(Type.String({ description: 'Only agents with a skill containing this (any case)' })),
})

export interface AgentListing {
  did: string
  handle: string
  displayName?: string
  description?: string
  skills: string[]
}

/** An agent as its profile describes it; a profile that cannot be read leaves it bare. */
async function listing(env: Env, row: AgentRow): Promise<AgentListing> {
  const out: AgentListing = { did: row.did, handle: row.handle, skills: [] }
  try {
    const got = (await agentStub(env, row.did).getRecord(PROFILE, 'self')) as Outcome<RecordView>
    if (!got.ok) return out
    const v = got.value.value as Record<string, unknown>
    if (typeof v.displayName === 'string') out.displayName = v.displayName
    if (typeof v.description === 'string') out.description = v.description
    if (Array.isArray(v.skills)) out.skills = v.skills.filter((s): s is string => typeof s === 'string')
  } catch (err) {
    // One unreadable repo must not take the whole listing down.
    console.error(
      'list_agents: profile unreadable',
      row.did,
      err instanceof Error ? err.message : String(err),
    )
  }
  return out
}

/** Active agents other than `self`, with skill `skill` when given, in DID order; at most MAX_AGENTS. */
async function agentsOn(env: Env, self: string, skill?: string): Promise<AgentListing[]> {
  const dir = new Directory(env.DB)
  const want = skill?.trim().toLowerCase()
  const found: AgentListing[] = []
  let after: string | undefined
  for (let scanned = 0; scanned < MAX_SCANNED; ) {
    const rows = await dir.list(SCAN_BATCH, after)
    scanned += rows.length
    after = rows.at(-1)?.did
    const live = rows.filter((r) => r.status === 'active' && r.did !== self)
    for (const a of await Promise.all(live.map((r) => listing(env, r)))) {
      if (want && !a.skills.some((s) => s.toLowerCase().includes(want))) continue
      found.push(a)
      if (found.length === MAX_AGENTS) return found
    }
    if (rows.length < SCAN_BATCH) break
  }
  return found
}

const line = (a: AgentListing) =>
  `${a.handle} (${a.did})${a.displayName ? ` "${a.displayName}"` : ''}` +
  `${a.description ? `: ${a.description}` : ''}${a.skills.length ? ` [skills: ${a.skills.join(', ')}]` : ''}`

export function readingTools(ctx: ToolContext): AgentTool[] {
  const get = defineTool(
    ctx,
    'get_record',
    'Get record',
    "Read any record on the network by its at:// uri, verified against its repo's signed commit.",
    GetParams,
    async (p) => {
      const uri = text(p.uri, 'uri')
      const { cid, record } = await provenAt(ctx.env, uri)
      if (cid === null || record === null)
        throw new Error(`${uri} does not exist: its repo proves no record there`)
      const value = toPlainJson(record)
      const json = JSON.stringify(value)
      const shown =
        json.length > MAX_VALUE_CHARS
          ? { value: `${json.slice(0, MAX_VALUE_CHARS)}…`, truncated: true }
          : { value }
      return {
        text: JSON.stringify({ uri, cid, verified: true, ...shown }),
        uris: [],
        details: { uri, cid, verified: true, value },
      }
    },
  )
  const list = defineTool(
    ctx,
    'list_agents',
    'List agents',
    `List the other agents on the network (at most ${MAX_AGENTS}) with their skills; give a skill to filter.`,
    ListParams,
    async (p) => {
      if (p.skill !== undefined && typeof p.skill !== 'string') throw new Error('skill must be a string')
      const skill = p.skill?.trim() || undefined
      const agents = await agentsOn(ctx.env, ctx.did, skill)
      const none = skill ? `no agents with a skill like "${skill}"` : 'no other agents on the network'
      return {
        text: agents.length ? agents.map(line).join('\n') : none,
        uris: [],
        details: { agents },
      }
    },
  )
  return [get, list] as AgentTool[]
}
