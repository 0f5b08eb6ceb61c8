/**
 * How the Worker reaches agents: the AgentDO stub for a DID (one object per
 * DID, named by it), and resolution of a `repo` parameter (handle or DID).
 */
import { isDid, isHandle, normalizeHandle } from '../atproto/syntax/index.ts'
import { Directory } from '../directory/directory.ts'
import type { Env } from '../env.ts'
import { invalidRequest, XrpcError } from '../http/xrpc.ts'

export function agentStub(env: Env, did: string) {
  return env.AGENTS.get(env.AGENTS.idFromName(did))
}

/** Resolve a handle or DID to a registered agent's DID. */
export async function resolveRepo(env: Env, repo: string | undefined): Promise<string> {
  if (!repo) throw invalidRequest('repo is required')
  const dir = new Directory(env.DB)
  if (isDid(repo)) {
    const row = await dir.byDid(repo)
    if (!row) throw new XrpcError(400, 'RepoNotFound', `Could not find repo: ${repo}`)
    if (row.status === 'deleted') throw new XrpcError(400, 'RepoNotFound', `Repo has been deleted: ${repo}`)
    return repo
  }
  const handle = normalizeHandle(repo)
  if (!isHandle(handle)) throw invalidRequest(`Invalid repo: ${repo}`)
  const row = await dir.byHandle(handle)
  if (!row || row.status === 'deleted')
    throw new XrpcError(400, 'RepoNotFound', `Could not find repo: ${repo}`)
  return row.did
}
