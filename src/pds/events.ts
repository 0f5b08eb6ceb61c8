/**
 * Every outbox event: the firehose bodies (`#commit`, `#sync`, `#identity`,
 * `#account`, each encoded once here, without `seq`) and `queueEvent`, the one
 * way into the outbox. Each event is queued inside the transaction that makes
 * the state change it reports; the caller then kicks the outbox.
 *
 * The relay de-duplicates by (did, kind, rev): an event whose rev is not newer
 * than the last one of its kind is taken for a re-send and dropped. So every
 * rev must be newer than every earlier rev of its kind, even after a restart
 * with a wall clock that went backwards:
 * - `#commit` and `#sync` carry the commit's rev, which the repo issues after
 *   the persisted head's rev (`TidClock.nextAfter`);
 * - `#identity` and `#account` take `nextEventRev`: after the newest rev this
 *   agent ever queued, of any kind (`agent.event_rev`, kept by `queueEvent`).
 */

import { carBytes } from '../atproto/car.ts'
import { encodeCborTrusted, toBytes } from '../atproto/cbor.ts'
import { type Cid, cidToLink, cidToString, parseCid } from '../atproto/cid.ts'
import type { Repo, RepoOp } from '../atproto/repo/index.ts'
import type { TidClock } from '../atproto/syntax/index.ts'
import type { EventKind } from '../relay/frames.ts'
import type { AgentStatus } from './agent-do.ts'

/** What a firehose #commit body is made of; the genesis commit has no `since` and no `prevData`. */
export interface CommitEventFields {
  cid: Cid
  rev: string
  since: string | null
  /** The commit's CAR slice. */
  blocks: Uint8Array
  ops: RepoOp[]
  prevData?: Cid
}

/** `#commit`: the commit, its CAR slice and its ops (sync 1.1). */
export function commitEvent(did: string, e: CommitEventFields): Uint8Array {
  return encodeCborTrusted({
    repo: did,
    commit: cidToLink(e.cid),
    rev: e.rev,
    since: e.since,
    blocks: toBytes(e.blocks),
    ops: e.ops.map((op) => ({
      action: op.action,
      path: op.path,
      cid: op.cid ? cidToLink(op.cid) : null,
      ...(op.prev ? { prev: cidToLink(op.prev) } : {}),
    })),
    ...(e.prevData ? { prevData: cidToLink(e.prevData) } : {}),
    blobs: [],
    rebase: false,
    tooBig: false,
    time: new Date().toISOString(),
  })
}

/**
 * `#sync` (sync 1.1): the repo was reset to a new state (an import), so
 * consumers drop what they hold and resync from this commit. No ops: an
 * import can change thousands of records, more than a `#commit` may carry.
 * `blocks` is a CAR whose one root is the commit and whose one block is the
 * signed commit.
 */
export function syncEvent(
  did: string,
  commit: { cid: Cid; rev: string; commitBytes: Uint8Array },
): Uint8Array {
  const car = carBytes([commit.cid], [{ cid: commit.cid.bytes, bytes: commit.commitBytes }])
  return encodeCborTrusted({ did, rev: commit.rev, blocks: toBytes(car), time: new Date().toISOString() })
}

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

/**
 * A rev for an event that is not a commit: after every rev this agent has
 * queued. The clock alone is not enough: a restarted object gets a fresh
 * clock, and if the wall clock is now behind, its TIDs would sort before the
 * last event's and the relay would drop the event as a re-send.
 */
export function nextEventRev(sql: SqlStorage, clock: TidClock): string {
  const last = sql
    .exec<{ event_rev: string | null }>('SELECT event_rev FROM agent WHERE id = 1')
    .toArray()[0]?.event_rev
  return last ? clock.nextAfter(last) : clock.next()
}

/** Add an event to the outbox and remember its rev; call inside the state change's transaction. */
export function queueEvent(sql: SqlStorage, kind: EventKind, rev: string, event: Uint8Array): void {
  sql.exec(
    'INSERT INTO outbox (rev, kind, event, created_at) VALUES (?, ?, ?, ?)',
    rev,
    kind,
    event,
    new Date().toISOString(),
  )
  // max: the genesis commit is queued after the identity and account events, with an older rev.
  sql.exec('UPDATE agent SET event_rev = max(coalesce(event_rev, ?), ?) WHERE id = 1', rev, rev)
}
