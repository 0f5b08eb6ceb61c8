/**
 * The AgentDO's state: its one `agent` row, what it loads once per object
 * lifetime, and who the Worker says is calling.
 */
import type { KeyType } from '../atproto/keys.ts'
import type { Repo } from '../atproto/repo/index.ts'
import type { Sessions } from './sessions.ts'

export type AgentStatus = 'active' | 'deactivated' | 'deleted'

/** Who the Worker says is calling (it has verified the token's signature). */
export type AgentAuth = { kind: 'admin' } | { kind: 'session'; sid: string }

export interface CreateAgentInput {
  did: string
  handle: string
  keyType: KeyType
  privateKey: Uint8Array
  password?: string
}

export interface AgentRow {
  did: string
  handle: string
  key_type: KeyType
  signing_key: ArrayBuffer
  password_hash: string | null
  status: AgentStatus
  root_cid: string | null
}

export interface Loaded {
  did: string
  handle: string
  status: AgentStatus
  repo: Repo
  sessions: Sessions
}
