/**
 * Who an `agent.comms.*` record is for. Pure: the router (router-do.ts) calls
 * it for each comms record the relay sequenced.
 *
 * - message, handoff: the `recipient`;
 * - request: the `assignee`, or else each DID of its `audience`;
 * - response: the author of the cited request (the DID in its at-uri); a
 *   response by that author to its own request (a cancel, say) goes instead
 *   to whoever works on the task, which only the task index knows (the
 *   router passes `workersOf`);
 * - broadcast: each DID of its `audience`, and each agent subscribed to one
 *   of its topic tags (audience entries that are not DIDs, and its `topic`;
 *   the router passes `subscribersOf`, topics.ts).
 *
 * The sender never receives its own record. Expired records go nowhere.
 */
import { isDid } from '../atproto/syntax/index.ts'

export const COMMS_PREFIX = 'agent.comms.'

type Rec = Record<string, unknown>

function didsOf(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && isDid(x)) : []
}

function one(v: unknown): string[] {
  return typeof v === 'string' && isDid(v) ? [v] : []
}

/** The DID an at-uri names (`at://did/…`), if any. */
export function uriAuthority(uri: unknown): string | null {
  if (typeof uri !== 'string' || !uri.startsWith('at://')) return null
  const did = uri.slice(5).split('/')[0]!
  return isDid(did) ? did : null
}

/** When the record stops being deliverable (unix ms), or null for never. */
export function expiresAt(collection: string, record: Rec): number | null {
  if (typeof record.expiresAt === 'string') {
    const t = Date.parse(record.expiresAt)
    return Number.isNaN(t) ? null : t
  }
  if (collection === `${COMMS_PREFIX}broadcast` && typeof record.ttlSeconds === 'number') {
    const created = Date.parse(String(record.createdAt))
    return Number.isNaN(created) ? null : created + record.ttlSeconds * 1000
  }
  return null
}

/**
 * The recipients of a comms record written by `author`, without duplicates or the author.
 * `workersOf(requestUri)`: who works on a task (its assignee or claimant, else its audience).
 */
export function recipients(
  collection: string,
  author: string,
  record: Rec,
  workersOf: (requestUri: string) => string[] = () => [],
  subscribersOf: (topic: string) => string[] = () => [],
): string[] {
  let dids: string[]
  switch (collection.slice(COMMS_PREFIX.length)) {
    case 'message':
    case 'handoff':
      dids = one(record.recipient)
      break
    case 'request':
      dids = record.assignee !== undefined ? one(record.assignee) : didsOf(record.audience)
      break
    case 'response': {
      const request = record.request as Rec | undefined
      const did = uriAuthority(request?.uri)
      if (did === null) dids = []
      else if (did === author) dids = workersOf(request!.uri as string)
      else dids = [did]
      break
    }
    case 'broadcast': {
      const tags = Array.isArray(record.audience)
        ? record.audience.filter((x): x is string => typeof x === 'string' && !x.startsWith('did:'))
        : []
      if (typeof record.topic === 'string') tags.push(record.topic)
      dids = [...didsOf(record.audience), ...[...new Set(tags)].flatMap((t) => subscribersOf(t))]
      break
    }
    default:
      dids = []
  }
  return [...new Set(dids)].filter((d) => d !== author)
}
