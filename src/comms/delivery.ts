/**
 * Delivering a routed record into a recipient's inbox. The Queue consumer
 * (`deliverBatch`) runs in the Worker; the check (`provenRecord`) runs in the
 * recipient's object before it accepts anything: the record is fetched from
 * the sender's repo with its proof (as `com.atproto.sync.getRecord` serves
 * it), the commit's signature is checked against the sender's DID, and the
 * CID must be the one routed. At least once on the Queue, exactly once in the
 * inbox (inbox.ts de-duplicates by uri + cid).
 */
import { cidToString } from '../atproto/cid.ts'
import { verifyRecordProof } from '../atproto/repo/index.ts'
import { Directory } from '../directory/directory.ts'
import type { Env } from '../env.ts'
import { unwrap, XrpcError } from '../http/xrpc.ts'
import { atprotoKey } from '../identity/audit.ts'
import { agentStub } from '../pds/agents.ts'
import type { Delivery, Settlement } from './deliveries.ts'
import { routerStub } from './router-do.ts'

/** Tries before a delivery becomes a dead letter. */
export const MAX_ATTEMPTS = 5

/** A failure that no retry can fix: the delivery goes to the dead letters at once. */
export const undeliverable = (message: string) => new XrpcError(422, 'Undeliverable', message)

/** The record at `d.uri`, proven against the sender's signed repo, with the routed CID. */
export async function provenRecord(env: Env, d: Delivery): Promise<Record<string, unknown>> {
  const rkey = d.uri.slice(d.uri.lastIndexOf('/') + 1)
  const op = await new Directory(env.DB).currentOp(d.sender)
  if (!op) throw undeliverable(`sender ${d.sender} is not on this network`)
  const proof = await agentStub(env, d.sender).recordProof(d.collection, rkey)
  if (!proof.ok) throw undeliverable(`sender's repo is unavailable: ${proof.message}`)
  const { cid, record } = await verifyRecordProof(unwrap(proof), d.sender, atprotoKey(op), d.collection, rkey)
  if (!cid || !record) throw undeliverable(`${d.uri} is no longer in the sender's repo`)
  if (cidToString(cid) !== d.cid) throw undeliverable(`${d.uri} has changed since it was routed`)
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
  for (const msg of batch.messages) {
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
      continue
    }
    await router.settle(d.id, verdict)
    msg.ack()
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
  if (out.ok) return { state: 'delivered' }
  if (out.status < 500) return { state: 'dead', reason: out.message }
  throw new Error(out.message)
}
