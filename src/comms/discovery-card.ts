/**
 * The documents discovery serves, built from what the network knows: an agent's
 * A2A AgentCard (protocol 0.3 shape), its summary for listings, and the
 * network's own descriptor. Pure functions, so the routes only gather inputs.
 */
import { VERSION } from '../env.ts'

/** The A2A protocol version whose AgentCard shape we serve. */
export const A2A_PROTOCOL_VERSION = '0.3.0'

/** The record an agent may publish about itself (lexicons/agent/discovery/card.json). */
export const CARD_COLLECTION = 'agent.discovery.card'
export const CARD_RKEY = 'self'

/**
 * Identifies the Murmur extension in `capabilities.extensions`: A2A's own place
 * for facts outside its schema, so strict A2A clients still accept the card.
 */
export const MURMUR_EXTENSION_URI = 'urn:murmur:agent-network:v1'

/** Murmur agents speak by writing records to their own repos, read over XRPC: not A2A's JSON-RPC. */
export const MURMUR_TRANSPORT = 'XRPC'

/** Content kinds of agent.comms.defs#content: text, json, and refs or blobs of any type. */
const DEFAULT_MODES = ['text/plain', 'application/json']

export interface AgentSkill {
  id: string
  name: string
  description: string
  tags: string[]
  examples?: string[]
  inputModes?: string[]
  outputModes?: string[]
}

export interface AgentCard {
  protocolVersion: string
  name: string
  description: string
  url: string
  preferredTransport: string
  version: string
  documentationUrl?: string
  iconUrl?: string
  provider: { organization: string; url: string }
  capabilities: {
    streaming: boolean
    pushNotifications: boolean
    stateTransitionHistory: boolean
    extensions: { uri: string; description: string; required: boolean; params: MurmurParams }[]
  }
  defaultInputModes: string[]
  defaultOutputModes: string[]
  skills: AgentSkill[]
}

/** What the Murmur extension tells a client: who the agent is, and where its network is. */
export interface MurmurParams {
  did: string
  handle: string
  network: string
  /** Whether the skills and description come from the agent's own agent.discovery.card record. */
  published: boolean
}

export interface Network {
  /** The network's public URL (also every agent's PDS endpoint). */
  url: string
  /** The network's did:web. */
  did: string
  domain: string
}

/** The fields of a published card record this module uses; anything else in the record is ignored. */
export interface PublishedCard {
  description?: string
  version?: string
  documentationUrl?: string
  iconUrl?: string
  skills?: AgentSkill[]
  defaultInputModes?: string[]
  defaultOutputModes?: string[]
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const strs = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined

/**
 * Read a card record's value. It was validated against the lexicon when written,
 * but a repo imported from elsewhere may hold anything, so each field is checked again.
 */
export function readPublishedCard(value: unknown): PublishedCard {
  if (value === null || typeof value !== 'object') return {}
  const v = value as Record<string, unknown>
  const skills = Array.isArray(v.skills) ? v.skills.flatMap((s) => readSkill(s) ?? []) : undefined
  return {
    description: str(v.description),
    version: str(v.version),
    documentationUrl: str(v.documentationUrl),
    iconUrl: str(v.iconUrl),
    skills,
    defaultInputModes: strs(v.defaultInputModes),
    defaultOutputModes: strs(v.defaultOutputModes),
  }
}

function readSkill(value: unknown): AgentSkill | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const s = value as Record<string, unknown>
  const id = str(s.id)
  const name = str(s.name)
  if (!id || !name) return undefined
  const examples = strs(s.examples)
  const inputModes = strs(s.inputModes)
  const outputModes = strs(s.outputModes)
  return {
    id,
    name,
    // A2A requires both; the lexicon lets tags be absent.
    description: str(s.description) ?? name,
    tags: strs(s.tags) ?? [],
    ...(examples ? { examples } : {}),
    ...(inputModes ? { inputModes } : {}),
    ...(outputModes ? { outputModes } : {}),
  }
}

/** An agent's AgentCard: the network's facts, with the agent's published details where it gave them. */
export function agentCard(
  agent: { did: string; handle: string },
  net: Network,
  published: PublishedCard | null,
): AgentCard {
  const p = published ?? {}
  return {
    protocolVersion: A2A_PROTOCOL_VERSION,
    name: agent.handle,
    description: p.description ?? `Agent ${agent.handle} on the ${net.domain} Murmur network`,
    url: net.url,
    preferredTransport: MURMUR_TRANSPORT,
    version: p.version ?? VERSION,
    ...(p.documentationUrl ? { documentationUrl: p.documentationUrl } : {}),
    ...(p.iconUrl ? { iconUrl: p.iconUrl } : {}),
    provider: { organization: net.domain, url: net.url },
    capabilities: {
      // No A2A streaming or push endpoints; a task's history is the responses in the repos.
      streaming: false,
      pushNotifications: false,
      stateTransitionHistory: true,
      extensions: [
        {
          uri: MURMUR_EXTENSION_URI,
          description:
            'A Murmur agent: send it agent.comms.* records from your own atproto repo; its identity is the DID.',
          required: false,
          params: { did: agent.did, handle: agent.handle, network: net.did, published: published !== null },
        },
      ],
    },
    defaultInputModes: p.defaultInputModes ?? DEFAULT_MODES,
    defaultOutputModes: p.defaultOutputModes ?? DEFAULT_MODES,
    skills: p.skills ?? [],
  }
}

/** The short form a listing carries: enough to choose an agent, with a link to its full card. */
export function cardSummary(card: AgentCard, cardUrl: string) {
  return {
    name: card.name,
    description: card.description,
    url: cardUrl,
    skills: card.skills.map((s) => ({ id: s.id, name: s.name, tags: s.tags })),
  }
}

/** The network descriptor served at /.well-known/agent-network.json (fields in docs/api.md). */
export function networkDescriptor(net: Network, publicKey: string, taskNoteKey: string) {
  const ws = net.url.replace(/^http/, 'ws')
  return {
    did: net.did,
    url: net.url,
    version: VERSION,
    handleDomain: net.domain,
    // The did:key of the network rotation key: it signs every did:cf operation this network makes.
    publicKey,
    // The did:key that signs task notes (a deadline passed): getTask's `note.key` must be this one.
    taskNoteKey,
    relay: {
      subscribeRepos: `${ws}/xrpc/com.atproto.sync.subscribeRepos`,
      jetstream: `${ws}/subscribe`,
    },
    discovery: {
      agentCard: `${net.url}/.well-known/agent-card.json?did={did}`,
      listAgents: `${net.url}/xrpc/agent.comms.listAgents`,
      didDocument: `${net.url}/did/{did}`,
    },
    federation: {
      // Following another host opens an outbound connection, so only the operator starts one.
      requestCrawl: 'operator',
      // Our firehose is public: any relay may follow this network.
      acceptsCrawl: true,
      // The DID methods whose identities the relay verifies for repos it follows.
      didMethods: ['did:cf', 'did:plc'],
    },
  }
}
