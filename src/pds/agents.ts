/**
 * How the Worker reaches agents: the AgentDO stub for a DID (one object per
 * DID, named by it), and resolution of a `repo` parameter (handle or DID).
 */

import type { Context } from 'hono'
import { isDid, isHandle, normalizeHandle } from '../atproto/syntax/index.ts'
import { type AgentRow, Directory } from '../directory/directory.ts'
import type { Env } from '../env.ts'
import { requireCaller } from '../http/auth.ts'
import { forbidden, invalidRequest, XrpcError } from '../http/xrpc.ts'
import type { AgentAuth } from './agent-do.ts'

export function agentStub(env: Env, did: string) {
  return env.AGENTS.get(env.AGENTS.idFromName(did))
}

/**
 * Directory lookups, remembered briefly per isolate: the write hot path should
 * not pay a D1 round trip per request. Status changes are enforced by the
 * agent's own object, so a stale entry here never lets a write through.
 */
const CACHE_MS = 10_000
const MAX_CACHED = 10_000
const cache = new Map<string, { row: AgentRow | null; at: number }>()

async function lookup(env: Env, key: string): Promise<AgentRow | null> {
  const hit = cache.get(key)
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.row
  const dir = new Directory(env.DB)
  const row = isDid(key) ? await dir.byDid(key) : await dir.byHandle(key)
  if (cache.size >= MAX_CACHED) cache.clear()
  // Only hits are remembered, so a new agent is visible at once.
  if (row) cache.set(key, { row, at: Date.now() })
  return row
}

/** Forget cached lookups of an agent (after its status or handle changes here). */
export function forgetAgent(...keys: string[]): void {
  for (const k of keys) cache.delete(k)
}

/** Resolve a handle or DID to a registered, undeleted agent's DID. */
export async function resolveRepo(env: Env, repo: string | undefined): Promise<string> {
  if (!repo) throw invalidRequest('repo is required')
  const key = isDid(repo) ? repo : normalizeHandle(repo)
  if (!isDid(key) && !isHandle(key)) throw invalidRequest(`Invalid repo: ${repo}`)
  const row = await lookup(env, key)
  if (!row || row.status === 'deleted')
    throw new XrpcError(400, 'RepoNotFound', `Could not find repo: ${repo}`)
  return row.did
}

/**
 * The agent a call acts on, and with what right: a session acts on its own
 * agent (naming another is a 403); the operator names one with `repo`.
 */
export async function actingAgent(
  c: Context<{ Bindings: Env }>,
  repo: string | undefined,
): Promise<{ did: string; auth: AgentAuth }> {
  const who = await requireCaller(c)
  if (who.kind === 'admin') return { did: await resolveRepo(c.env, repo), auth: who }
  if (repo !== undefined && (await resolveRepo(c.env, repo)) !== who.did)
    throw forbidden(`This session cannot act for ${repo}`)
  return { did: who.did, auth: { kind: 'session', sid: who.sid } }
}
