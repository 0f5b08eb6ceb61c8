/** `murmur agent create | list | show`. */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type Context, printJson } from './context.ts'
import { CliError, usage, XrpcCallError } from './errors.ts'
import { oneLine, table } from './format.ts'

const PROFILE = 'agent.memory.profile'

interface Created {
  did: string
  handle: string
}

interface StrongRef {
  uri: string
  cid: string
}

export interface CreateOptions {
  instructions?: string
  instructionsFile?: string
  model?: string
  description?: string
  /** `--skills`, split on commas. */
  skills?: string[]
  /** `--tools`, split on commas: the tools enabled for the agent (an empty list: none). */
  tools?: string[]
}

/** A profile list (`skills`, `tools`): deduplicated, within the lexicon's limits. */
function nameList(option: string, values: string[] | undefined, maxLength: number): string[] | undefined {
  if (values === undefined) return undefined
  const list = [...new Set(values)]
  if (list.length > 64) throw usage(`--${option} takes at most 64 names, got ${list.length}`)
  const long = list.find((v) => v.length > maxLength)
  if (long) throw usage(`--${option}: a name is at most ${maxLength} characters: ${long.slice(0, 40)}…`)
  return list
}

function instructionsFrom(opts: CreateOptions): string | undefined {
  if (opts.instructions !== undefined && opts.instructionsFile !== undefined)
    throw usage('give --instructions or --instructions-file, not both')
  if (opts.instructionsFile === undefined) return opts.instructions
  try {
    return readFileSync(opts.instructionsFile, 'utf8')
  } catch (err) {
    throw new CliError(`cannot read ${opts.instructionsFile}: ${(err as Error).message}`, 1, { cause: err })
  }
}

export async function createAgent(ctx: Context, name: string, opts: CreateOptions): Promise<void> {
  const instructions = instructionsFrom(opts)
  const skills = nameList('skills', opts.skills, 200)
  const tools = nameList('tools', opts.tools, 100)
  const account = await ctx.client.post<Created>('com.atproto.server.createAccount', {
    handle: name,
    // The operator acts with the admin token; the password only guards the agent's own sessions.
    password: randomBytes(24).toString('base64url'),
  })
  const fields = { description: opts.description, instructions, model: opts.model, skills, tools }
  let profile: StrongRef | undefined
  if (Object.values(fields).some((v) => v !== undefined)) {
    const record = { $type: PROFILE, displayName: name, ...fields, createdAt: new Date().toISOString() }
    try {
      profile = await ctx.client.post<StrongRef>('com.atproto.repo.putRecord', {
        repo: account.did,
        collection: PROFILE,
        rkey: 'self',
        record,
      })
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      throw new CliError(
        `created ${account.handle} (${account.did}), but its profile was not written: ${why}`,
      )
    }
  }
  if (ctx.json) return printJson(ctx, { did: account.did, handle: account.handle, profile })
  const rows = [
    ['did', account.did],
    ['handle', account.handle],
  ]
  if (profile) rows.push(['profile', profile.uri])
  ctx.out(table(rows))
}

interface AgentRow {
  did: string
  handle: string
  status: string
  createdAt: string
}

export async function listAgents(ctx: Context): Promise<void> {
  const agents: AgentRow[] = []
  let cursor: string | undefined
  do {
    const page = await ctx.client.get<{ agents: AgentRow[]; cursor?: string }>(
      'agent.admin.listAgents',
      { limit: 1000, cursor },
      true,
    )
    agents.push(...page.agents)
    cursor = page.agents.length > 0 ? page.cursor : undefined
  } while (cursor)
  if (ctx.json) return printJson(ctx, agents)
  if (agents.length === 0) return ctx.out('no agents yet: murmur agent create <name>')
  const head = ['HANDLE', 'DID', 'STATUS', 'CREATED'].map((h) => ctx.paint('bold', h))
  ctx.out(table([head, ...agents.map((a) => [a.handle, a.did, a.status, a.createdAt])]))
}

interface DescribeRepo {
  handle: string
  did: string
  didDoc: {
    verificationMethod?: { publicKeyMultibase?: string }[]
    service?: { id: string; serviceEndpoint: string }[]
  }
  collections: string[]
}

interface CollectionCount {
  collection: string
  records: number
  /** False when counting stopped at the cap. */
  complete: boolean
}

/** Pages of listRecords, at most `maxPages` of 100: cheap for the small repos agents keep. */
async function countRecords(
  ctx: Context,
  did: string,
  collection: string,
  maxPages = 10,
): Promise<CollectionCount> {
  let records = 0
  let cursor: string | undefined
  for (let page = 0; page < maxPages; page++) {
    const res = await ctx.client.get<{ records: unknown[]; cursor?: string }>(
      'com.atproto.repo.listRecords',
      { repo: did, collection, limit: 100, cursor },
    )
    records += res.records.length
    cursor = res.records.length === 100 ? res.cursor : undefined
    if (!cursor) return { collection, records, complete: true }
  }
  return { collection, records, complete: false }
}

async function getProfile(ctx: Context, did: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await ctx.client.get<{ value: Record<string, unknown> }>('com.atproto.repo.getRecord', {
      repo: did,
      collection: PROFILE,
      rkey: 'self',
    })
    return res.value
  } catch (err) {
    if (err instanceof XrpcCallError && err.error === 'RecordNotFound') return undefined
    throw err
  }
}

export async function showAgent(ctx: Context, agent: string): Promise<void> {
  const did = await ctx.client.resolve(agent)
  const repo = await ctx.client.get<DescribeRepo>('com.atproto.repo.describeRepo', { repo: did })
  const [status, profile, counts] = await Promise.all([
    ctx.client.get<{ active: boolean; rev?: string; status?: string }>('com.atproto.sync.getRepoStatus', {
      did,
    }),
    repo.collections.includes(PROFILE) ? getProfile(ctx, did) : undefined,
    Promise.all(repo.collections.map((c) => countRecords(ctx, did, c))),
  ])
  const multikey = repo.didDoc.verificationMethod?.[0]?.publicKeyMultibase
  const signingKey = multikey ? `did:key:${multikey}` : undefined
  const pds = repo.didDoc.service?.find((s) => s.id.endsWith('atproto_pds'))?.serviceEndpoint
  if (ctx.json)
    return printJson(ctx, {
      did,
      handle: repo.handle,
      active: status.active,
      status: status.status ?? (status.active ? 'active' : undefined),
      rev: status.rev,
      signingKey,
      pds,
      profile,
      collections: counts,
    })
  ctx.out(ctx.paint('bold', repo.handle))
  const rows: string[][] = [
    ['did', did],
    ['status', status.active ? 'active' : (status.status ?? 'inactive')],
  ]
  if (status.rev) rows.push(['rev', status.rev])
  if (signingKey) rows.push(['signing key', signingKey])
  if (pds) rows.push(['pds', pds])
  for (const field of ['displayName', 'description', 'model', 'skills', 'tools', 'instructions'] as const) {
    const v = profile?.[field]
    if (typeof v === 'string') rows.push([field, oneLine(v, 100)])
    // An empty tools list is an agent with every tool disabled.
    else if (Array.isArray(v)) rows.push([field, v.length ? oneLine(v.join(', '), 100) : 'none'])
  }
  ctx.out(table(rows.map(([k, v]) => [`  ${ctx.paint('dim', k!)}`, v!])))
  if (counts.length === 0) return ctx.out(`  ${ctx.paint('dim', 'collections')}  none`)
  ctx.out(`  ${ctx.paint('dim', 'collections')}`)
  ctx.out(table(counts.map((c) => [`    ${c.collection}`, `${c.records}${c.complete ? '' : '+'}`])))
}
