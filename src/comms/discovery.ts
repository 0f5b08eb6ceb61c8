/**
 * Discovery, all public: an agent's A2A card (`/.well-known/agent-card.json`,
 * by `?did=` or on the agent's handle host), the network's descriptor
 * (`/.well-known/agent-network.json`) and the listing of active agents with
 * their cards (`agent.comms.listAgents`). The documents are built in
 * discovery-card.ts; this module gathers what they are built from.
 */
import { type Context, Hono } from 'hono'
import { isDid, isHandle } from '../atproto/syntax/index.ts'
import { type AgentRow, Directory } from '../directory/directory.ts'
import { type Env, networkDomain, publicUrl, serviceDid } from '../env.ts'
import { networkSecret } from '../http/auth.ts'
import { invalidRequest, unwrap, XrpcError } from '../http/xrpc.ts'
import { networkRotationKey } from '../identity/network.ts'
import type { RecordView } from '../pds/agent-reads.ts'
import { agentStub } from '../pds/agents.ts'
import { didCursor, limitParam } from '../pds/routes/repo.ts'
import {
  agentCard,
  CARD_COLLECTION,
  CARD_RKEY,
  cardSummary,
  type Network,
  networkDescriptor,
  type PublishedCard,
  readPublishedCard,
} from './discovery-card.ts'
import { taskNoteKey } from './task-note.ts'

type C = Context<{ Bindings: Env }>
export const discoveryRoutes = new Hono<{ Bindings: Env }>()

function network(c: C): Network {
  const url = publicUrl(c.env, c.req.url)
  return { url, did: serviceDid(url), domain: networkDomain(c.env) }
}

/** The agent's own agent.discovery.card record, or null when it has not published one. */
async function publishedCard(env: Env, did: string): Promise<PublishedCard | null> {
  const out = await agentStub(env, did).getRecord(CARD_COLLECTION, CARD_RKEY)
  if (!out.ok && out.error === 'RecordNotFound') return null
  // The RPC stub's typing loses the view's shape (its value is `unknown` data); name it again.
  return readPublishedCard((unwrap(out) as RecordView).value)
}

/** Only active agents are discoverable: a deactivated one cannot answer, a deleted one is gone. */
function discoverable(row: AgentRow | null, who: string): AgentRow {
  if (!row || row.status === 'deleted') throw new XrpcError(404, 'AgentNotFound', `No agent: ${who}`)
  if (row.status !== 'active') throw new XrpcError(404, 'AgentNotFound', `Agent is ${row.status}: ${who}`)
  return row
}

discoveryRoutes.get('/.well-known/agent-card.json', async (c) => {
  const dir = new Directory(c.env.DB)
  const did = c.req.query('did')
  let row: AgentRow
  if (did !== undefined) {
    if (!isDid(did)) throw invalidRequest(`Invalid DID: ${did}`)
    row = discoverable(await dir.byDid(did), did)
  } else {
    // Without ?did, the host names the agent, as /.well-known/atproto-did does.
    const host = new URL(c.req.url).hostname.toLowerCase()
    if (!isHandle(host)) throw invalidRequest("did is required (or ask on the agent's handle host)")
    row = discoverable(await dir.byHandle(host), host)
  }
  return c.json(agentCard(row, network(c), await publishedCard(c.env, row.did)))
})

discoveryRoutes.get('/.well-known/agent-network.json', async (c) => {
  // Only the public half of the rotation key leaves: its did:key, never the secret it derives from.
  const { did: publicKey } = await networkRotationKey(c.env)
  const { did: noteKey } = await taskNoteKey(networkSecret(c.env))
  return c.json(networkDescriptor(network(c), publicKey, noteKey))
})

/** Directory rows scanned per D1 query, and at most per request (deactivated agents are skipped). */
const SCAN_BATCH = 100
const MAX_SCANNED = 1000

/**
 * A page of active agents in DID order. The directory lists every status, so
 * this reads on until the page is full; the cursor is the last DID looked at,
 * which may close a short page when many agents in a row are inactive.
 */
async function activePage(dir: Directory, limit: number, cursor: string | undefined) {
  const agents: AgentRow[] = []
  let after = cursor
  for (let scanned = 0; scanned < MAX_SCANNED; ) {
    const rows = await dir.list(SCAN_BATCH, after)
    scanned += rows.length
    for (const row of rows) {
      after = row.did
      if (row.status !== 'active') continue
      agents.push(row)
      if (agents.length === limit) return { agents, cursor: row.did }
    }
    if (rows.length < SCAN_BATCH) return { agents }
  }
  return { agents, cursor: after }
}

discoveryRoutes.get('/xrpc/agent.comms.listAgents', async (c) => {
  const page = await activePage(new Directory(c.env.DB), limitParam(c, 100, 50), didCursor(c))
  const net = network(c)
  const agents = await Promise.all(
    page.agents.map(async ({ did, handle }) => {
      // One agent whose repo cannot be read must not take the whole listing down: it lists bare.
      const published = await publishedCard(c.env, did).catch((err: unknown) => {
        console.error('listAgents: card unreadable', did, err instanceof Error ? err.message : String(err))
        return null
      })
      const cardUrl = `${net.url}/.well-known/agent-card.json?did=${encodeURIComponent(did)}`
      return { did, handle, card: cardSummary(agentCard({ did, handle }, net, published), cardUrl) }
    }),
  )
  return c.json({ agents, ...(page.cursor ? { cursor: page.cursor } : {}) })
})
