/** Bindings and variables the Worker reads. */
export interface Env {
  DB: D1Database
  AGENTS: DurableObjectNamespace<import('./pds/agent-do.ts').AgentDO>
  RELAY: DurableObjectNamespace<import('./relay/relay-do.ts').RelayDO>
  CRAWLERS: DurableObjectNamespace<import('./relay/crawler-do.ts').CrawlerDO>
  ROUTER: DurableObjectNamespace<import('./comms/router-do.ts').RouterDO>
  /** The network-wide index of shared memories (src/memory/network-memory-do.ts). */
  NETWORK_MEMORY: DurableObjectNamespace<import('./memory/network-memory-do.ts').NetworkMemoryDO>
  /** Vectorize; when bound, agents' memory vectors live there, one namespace per agent. */
  VECTORIZE?: import('./memory/vector-index.ts').VectorizeBinding
  /** The transport of comms deliveries; the durable record is the router's (src/comms). */
  DELIVERIES: Queue<import('./comms/deliveries.ts').Delivery>
  BLOBS: R2Bucket
  /** Agent turns waiting to run (src/agent): the consumer is this Worker's `queue`. */
  TURNS: Queue<import('./agent/turn-queue.ts').TurnMessage>
  /** Model settings (src/agent/models.ts); with none set, agents run the offline scripted model. */
  OPENAI_BASE_URL?: string
  OPENAI_API_KEY?: string
  ANTHROPIC_API_KEY?: string
  /** The model's name at the chosen provider. */
  MURMUR_MODEL?: string
  /** Longest one model call may take, in ms (default 30000). */
  MURMUR_MODEL_TIMEOUT_MS?: string
  /** Longest a whole turn (all model calls and tools) may take, in ms (default 120000). */
  MURMUR_TURN_TIMEOUT_MS?: string
  MURMUR_DOMAIN?: string
  MURMUR_PUBLIC_URL?: string
  /** Network secret: wraps keys at rest and signs session tokens. */
  MURMUR_SECRET?: string
  /** Largest blob accepted, in bytes (default 10 MB). */
  MURMUR_BLOB_LIMIT?: string
  /** Operator bearer token for admin calls. */
  MURMUR_ADMIN_TOKEN?: string
  /** Relay event log retention: hours (default 72) and a cap on events (default 1,000,000). */
  MURMUR_RELAY_RETENTION_HOURS?: string
  MURMUR_RELAY_MAX_EVENTS?: string
  /** Firehose flow control: a subscriber's unread-bytes bound and assumed floor read rate. */
  MURMUR_RELAY_MAX_BUFFERED_BYTES?: string
  MURMUR_RELAY_DRAIN_BYTES_PER_SEC?: string
  /** Where followed hosts' did:plc identities resolve (default https://plc.directory). */
  MURMUR_PLC_URL?: string
  /** Workers AI; when bound, memory embeds with it (src/memory/embedder.ts). */
  AI?: import('./memory/embedder.ts').AiBinding
  /** An OpenAI-compatible embeddings API base, e.g. `http://127.0.0.1:8788/v1` (npm start runs one). */
  MURMUR_EMBED_URL?: string
  /** Embedding model name (defaults: `@cf/baai/bge-small-en-v1.5` on Workers AI, `use-lite-512` over HTTP). */
  MURMUR_EMBED_MODEL?: string
  /** Bearer key for MURMUR_EMBED_URL, if the service wants one. */
  MURMUR_EMBED_API_KEY?: string
}

export const VERSION = '0.1.0'

/** Handle suffix for agents on this network, e.g. `agents.test`. */
export function networkDomain(env: Env): string {
  return (env.MURMUR_DOMAIN || 'agents.test').replace(/^\./, '')
}

/** The network's public URL; falls back to the origin the request arrived on. */
export function publicUrl(env: Env, requestUrl: string): string {
  return (env.MURMUR_PUBLIC_URL || new URL(requestUrl).origin).replace(/\/$/, '')
}

/** did:web of the service, derived from its public URL (port encoded as %3A). */
export function serviceDid(url: string): string {
  const { host } = new URL(url)
  return `did:web:${host.replace(':', '%3A')}`
}
