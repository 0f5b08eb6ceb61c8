/**
 * The non-write outbox events: `#identity` and `#account` bodies, and the
 * genesis `#commit`. Each is queued with `queueEvent` inside the transaction
 * that makes the state change it reports; the caller then kicks the outbox.
 *
 * The relay de-duplicates by (did, kind, rev), so every event needs a rev
 * newer than the last one of its kind: identity and account events take a
 * fresh TID from the agent's clock.
 */

import { carBytes } from '../atproto/car.ts'
import { encodeCborTrusted } from '../atproto/cbor.ts'
import { cidToString, parseCid } from '../atproto/cid.ts'
import type { Repo } from '../atproto/repo/index.ts'
import type { EventKind } from '../relay/frames.ts'
import type { AgentStatus } from './agent-do.ts'
import { commitEvent } from './write-path.ts'

/** `#identity`: the DID's document or handle may have changed. */
export function identityEvent(did: string, handle: string): Uint8Array {
  return encodeCborTrusted({ did, time: new Date().toISOString(), handle })
}

/** `#account`: the account's hosting status changed. */
export function accountEvent(did: string, status: AgentStatus): Uint8Array {
  const active = status === 'active'
  return encodeCborTrusted({ did, time: new Date().toISOString(), active, ...(active ? {} : { status }) })
}

/** The genesis commit's `#commit` (no `since`, no ops): every block of the empty repo. */
export function genesisCommitEvent(did: string, repo: Repo, blocks: Map<string, Uint8Array>): Uint8Array {
  const head = cidToString(repo.cid)
  const rest = [...blocks].filter(([cid]) => cid !== head)
  const car = carBytes(
    [repo.cid],
    [[head, blocks.get(head)!] as const, ...rest].map(([cid, bytes]) => ({
      cid: parseCid(cid).bytes,
      bytes,
    })),
  )
  return commitEvent(did, { cid: repo.cid, rev: repo.rev, since: null, blocks: car, ops: [] })
}

/** Add an event to the outbox; call inside the state change's transaction. */
export function queueEvent(sql: SqlStorage, kind: EventKind, rev: string, event: Uint8Array): void {
  sql.exec(
    'INSERT INTO outbox (rev, kind, event, created_at) VALUES (?, ?, ?, ?)',
    rev,
    kind,
    event,
    new Date().toISOString(),
  )
}
