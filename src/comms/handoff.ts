/**
 * Handoffs are verified. An `agent.comms.handoff` hands over work together
 * with the records it rests on, cited as strong refs (`task`, `context`). Its
 * receiver proves each ref against the cited repo before it accepts the
 * handoff: the record must be there and its CID must be the ref's. A handoff
 * that fails is not filed in the inbox; the receiver answers it instead with
 * an `agent.comms.response` in its own repo (`rejectionResponse`), which the
 * router delivers back to the handoff's sender. The AgentDO (`deliver`) does
 * the writing and remembers the rejection (handoff-rejections.ts).
 */
import type { Env } from '../env.ts'
import { provenAt, Unprovable, type UnprovableKind } from './delivery.ts'
import { RESPONSE } from './tasks.ts'

export const HANDOFF = 'agent.comms.handoff'

export interface StrongRef {
  uri: string
  cid: string
}

/** Why a handoff was rejected: `code` for programs, `message` for people (the response's `error`). */
export interface HandoffProblem {
  code: string
  message: string
}

/** The lexicon's limit on an error message, in graphemes (a code unit is at most one). */
const MAX_MESSAGE = 2000

const UNPROVABLE_CODES: Record<UnprovableKind, string> = {
  'invalid-uri': 'RefInvalid',
  'not-on-network': 'RefNotOnNetwork',
  unavailable: 'RefUnavailable',
  'bad-proof': 'RefUnproven',
}

function isStrongRef(v: unknown): v is StrongRef {
  const r = v as Partial<StrongRef> | null
  return typeof r?.uri === 'string' && typeof r.cid === 'string'
}

/** The refs a handoff cites, each with the field it came from (the reason names it). */
export function citedRefs(record: Record<string, unknown>): [string, StrongRef][] {
  const refs: [string, StrongRef][] = []
  if (isStrongRef(record.task)) refs.push(['task', record.task])
  const context = Array.isArray(record.context) ? record.context : []
  for (const [i, ref] of context.entries()) if (isStrongRef(ref)) refs.push([`context[${i}]`, ref])
  return refs
}

/** Why one ref fails, or null when its repo proves the record is there at the ref's CID. */
async function checkRef(env: Env, field: string, ref: StrongRef): Promise<HandoffProblem | null> {
  try {
    const { cid } = await provenAt(env, ref.uri)
    if (cid === null) return { code: 'RefNotFound', message: `${field}: ${ref.uri} does not exist` }
    if (cid !== ref.cid)
      return { code: 'RefMismatch', message: `${field}: ${ref.uri} is at ${cid}, not ${ref.cid}` }
    return null
  } catch (err) {
    // Only "cannot be proven" rejects; a repo that failed (5xx) throws, and the delivery is retried.
    if (err instanceof Unprovable)
      return { code: UNPROVABLE_CODES[err.kind], message: `${field}: ${err.message}` }
    throw err
  }
}

/**
 * The first reason the handoff's refs reject it, or null when all check. One
 * at a time (at most 101 refs): a repeated ref is proven once.
 */
export async function checkHandoff(
  env: Env,
  record: Record<string, unknown>,
): Promise<HandoffProblem | null> {
  const seen = new Set<string>()
  for (const [field, ref] of citedRefs(record)) {
    const key = `${ref.uri} ${ref.cid}`
    if (seen.has(key)) continue
    seen.add(key)
    const problem = await checkRef(env, field, ref)
    if (problem) return { ...problem, message: problem.message.slice(0, MAX_MESSAGE) }
  }
  return null
}

/**
 * The receiver's answer to a handoff it rejects. It cites the handoff as its
 * `request`: a response's `request` is where its recipient is read from (the
 * DID in the at-uri, recipients.ts), so the answer reaches the handoff's
 * sender, and the handoff's history is the responses citing it, as a task's is.
 */
export function rejectionResponse(
  receiver: string,
  handoff: StrongRef,
  problem: HandoffProblem,
): Record<string, unknown> {
  return {
    $type: RESPONSE,
    sender: receiver,
    request: { uri: handoff.uri, cid: handoff.cid },
    state: 'rejected',
    error: { code: problem.code, message: problem.message, retryable: false },
    createdAt: new Date().toISOString(),
  }
}
