/**
 * A new agent's first state, in one transaction: its row with the sealed
 * signing key, the empty signed repo, and the identity, account and genesis
 * commit events for the relay.
 */
import { cidToString } from '../atproto/cid.ts'
import { importKeypair } from '../atproto/keys.ts'
import { MemoryBlockStore } from '../atproto/mst/index.ts'
import { Repo } from '../atproto/repo/index.ts'
import type { TidClock } from '../atproto/syntax/index.ts'
import { hashPassword } from '../auth/password.ts'
import type { CreateAgentInput } from './agent-do.ts'
import { sealSigningKey } from './agent-keys.ts'
import { accountEvent, genesisCommitEvent, identityEvent, queueEvent } from './events.ts'
import { insertAgentRow } from './schema.ts'
import type { SqlBlockStore } from './sql-block-store.ts'

export interface GenesisContext {
  sql: SqlStorage
  store: SqlBlockStore
  clock: TidClock
  secret: string
  transactionSync: <T>(fn: () => T) => T
  /** The rev for an identity or account event (see nextEventRev). */
  eventRev: () => string
}

/** Write the new agent; returns its repo, loaded from what was stored. */
export async function writeGenesis(g: GenesisContext, input: CreateAgentInput): Promise<Repo> {
  const sealed = await sealSigningKey(g.secret, input.did, input.privateKey)
  const passwordHash = input.password ? await hashPassword(input.password) : null
  const keypair = await importKeypair(input.keyType, input.privateKey)
  // Built in memory first, so nothing reaches SQLite outside the transaction below.
  const scratch = new MemoryBlockStore()
  const genesis = await Repo.create(input.did, keypair, { clock: g.clock, store: scratch })
  g.transactionSync(() => {
    insertAgentRow(g.sql, input, sealed, passwordHash, cidToString(genesis.cid), genesis.rev)
    g.store.rev = genesis.rev
    for (const [cid, bytes] of scratch.blocks) g.store.put(cid, bytes)
    queueEvent(g.sql, 'identity', g.eventRev(), identityEvent(input.did, input.handle))
    queueEvent(g.sql, 'account', g.eventRev(), accountEvent(input.did, 'active'))
    queueEvent(g.sql, 'commit', genesis.rev, genesisCommitEvent(input.did, genesis, scratch.blocks))
  })
  return Repo.load(g.store, genesis.cid, { keypair, clock: g.clock })
}
