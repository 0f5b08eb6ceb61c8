/**
 * Delivering a routed record into a recipient's inbox. The Queue consumer
 * (`deliverBatch`) runs in the Worker; the check (`provenRecord`) runs in the
 * recipient's object before it accepts anything: the record is fetched from
 * the sender's repo with its proof (as `com.atproto.sync.getRecord` serves
 * it), the commit's signature is checked against the sender's DID, and the
 * CID must be the one routed. At least once on the Queue, exactly once in the
 * inbox (inbox.ts de-duplicates by uri + cid). `provenAt` is the same proof
 * for any record on this network: a handoff's receiver (handoff.ts) uses it
 * for every strong ref the handoff cites.
 */
import { cidToString } from '../atproto/cid.ts'
import { AtprotoError } from '../atproto/errors.ts'
import { verifyRecordProof } from '../atproto/repo/index.ts'
import { isAtUri, isDid, parseAtUri } from '../atproto/syntax/index.ts'
import { Directory } from '../directory/directory.ts'
import type { Env } from '../env.ts'
import { XrpcError } from '../http/xrpc.ts'
import { atprotoKey } from '../identity/audit.ts'
import { agentStub } from '../pds/agents.ts'
import type { Delivery, Settlement } from './deliveries.ts'
import { routerStub } from './router-do.ts'

/** Tries before a delivery becomes a dead letter. */
export const MAX_ATTEMPTS = 5

/** A failure that no retry can fix: the delivery goes to the dead letters at once. */
export const undeliverable = (message: string) => new XrpcError(422, 'Undeliverable', message)

/** Why `provenAt` could not prove what is at a uri (distinct from "proven absent"). */
export type UnprovableKind = 'invalid-uri' | 'not-on-network' | 'unavailable' | 'bad-proof'

/** A 4xx failure to prove a uri: as a delivery's failure it is a dead letter, as a handoff ref a rejection. */
export class Unprovable extends XrpcError {
  constructor(
    readonly kind: UnprovableKind,
    message: string,
  ) {
    super(422, 'Undeliverable', message)
  }
}

/** A record's address, split: only a DID's repo can be proven (a handle may move). */
export interface RecordAddress {
  did: string
  collection: string
  rkey: string
}

/** Split an at-uri that names one record in a DID's repo; throws Unprovable otherwise. */
export function recordAddress(uri: string): RecordAddress {
  const at = isAtUri(uri) ? parseAtUri(uri) : null
  if (!at?.collection || !at.rkey || !isDid(at.authority))
    throw new Unprovable('invalid-uri', `${uri} does not name a record in a DID's repo`)
  return { did: at.authority, collection: at.collection, rkey: at.rkey }
}

/** What a repo's signed commit proves is at a uri now: its CID and record, or nulls when absent. */
export interface Proven extends RecordAddress {
  cid: string | null
  record: Record<string, unknown> | null
}

/**
 * The record at `uri`, proven against its repo's signed commit: the proof is
 * fetched from the repo's AgentDO (as `com.atproto.sync.getRecord` serves it)
 * and its signature checked with the key the Directory holds for the DID.
 * Only repos on this network can be proven: fetching proofs from other hosts
 * is federation, a later slice. Throws Unprovable (4xx) when the uri cannot be
 * proven at all, and a plain Error when the repo failed (5xx), so callers retry.
 */
export async function provenAt(env: Env, uri: string): Promise<Proven> {
  const at = recordAddress(uri)
  const op = await new Directory(env.DB).currentOp(at.did)
  if (!op) throw new Unprovable('not-on-network', `${at.did} is not on this network`)
  const proof = await agentStub(env, at.did).recordProof(at.collection, at.rkey)
  if (!proof.ok && proof.status >= 500) throw new Error(`${at.did}'s repo failed: ${proof.message}`)
  if (!proof.ok) throw new Unprovable('unavailable', `${at.did}'s repo is unavailable: ${proof.message}`)
  try {
    const { cid, record } = await verifyRecordProof(
      proof.value,
      at.did,
      atprotoKey(op),
      at.collection,
      at.rkey,
    )
    return { ...at, cid: cid ? cidToString(cid) : null, record }
  } catch (err) {
    if (err instanceof AtprotoError) throw new Unprovable('bad-proof', `${uri}: ${err.message}`)
    throw err
  }
}

/** The record at `d.uri`, proven against the sender's signed repo, with the routed CID. */
export async function provenRecord(env: Env, d: Delivery): Promise<Record<string, unknown>> {
  const at = recordAddress(d.uri)
  // The router names the record by its uri; the uri must agree with the rest of what it routed.
  if (at.did !== d.sender || at.collection !== d.collection)
    throw undeliverable(`${d.uri} is not a ${d.collection} record of ${d.sender}`)
  const { cid, record } = await provenAt(env, d.uri)
  if (!cid || !record) throw undeliverable(`${d.uri} is no longer in the sender's repo`)
  if (cid !== d.cid) throw undeliverable(`${d.uri} has changed since it was routed`)
  return record
}

/** Seconds to wait before try `attempt` + 1. */
function backoff(attempt: number): number {
  return Math.min(60, 2 ** attempt)
}

/** The Queue consumer: deliver each message, settle it with the router, or retry with backoff. */
export async function deliverBatch(batch: MessageBatch<Delivery>, env: Env): Promise<void> {
  const router = routerStub(env)
  const dir = new Directory(env.DB)
  // Each delivery waits on other objects (the recipient, the sender's repo, D1): run them side by
  // side. Order between deliveries does not matter; each inbox de-duplicates on its own.
  await Promise.all(batch.messages.map((msg) => settleOne(env, dir, router, msg)))
}

async function settleOne(
  env: Env,
  dir: Directory,
  router: ReturnType<typeof routerStub>,
  msg: Message<Delivery>,
): Promise<void> {
  const d = msg.body
  let verdict: Settlement | null
  try {
    verdict = await deliverOne(env, dir, d)
  } catch (err) {
    verdict = null
    console.error(
      'delivery failed',
      d.uri,
      '→',
      d.recipient,
      err instanceof Error ? err.message : String(err),
    )
    if (msg.attempts >= MAX_ATTEMPTS)
      verdict = { state: 'dead', reason: `gave up after ${msg.attempts} tries: ${(err as Error).message}` }
  }
  if (verdict === null) {
    msg.retry({ delaySeconds: backoff(msg.attempts) })
    return
  }
  try {
    await router.settle(d.id, verdict)
    msg.ack()
  } catch (err) {
    // Settled next time: a redelivery finds the item already in the inbox and settles again.
    console.error('delivery: settle failed', d.id, err instanceof Error ? err.message : String(err))
    msg.retry({ delaySeconds: backoff(msg.attempts) })
  }
}

/** One delivery's outcome; throws for failures worth retrying. */
async function deliverOne(env: Env, dir: Directory, d: Delivery): Promise<Settlement> {
  if (d.expiresAt !== null && d.expiresAt <= Date.now())
    return { state: 'expired', reason: 'expired before delivery' }
  const recipient = await dir.byDid(d.recipient)
  if (!recipient || recipient.status === 'deleted')
    return { state: 'dead', reason: `recipient ${d.recipient} is not on this network` }
  const out = await agentStub(env, d.recipient).deliver(d)
  // A rejected handoff counts as delivered too: the recipient had it, and its answer is on the way back.
  if (out.ok) return { state: 'delivered' }
  if (out.status < 500) return { state: 'dead', reason: out.message }
  throw new Error(out.message)
}
