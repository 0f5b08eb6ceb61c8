/**
 * The agent's own calls on its inbox, one entry (`AgentDO.inbox`, after the
 * caller is authorised): may it open the push socket, list, acknowledge.
 * Deliveries come in separately (`AgentDO.deliver`, agent-inbox.ts).
 */
import type { Inbox, InboxItem, InboxQuery } from './inbox.ts'

/** `access` answers whether the caller may open the inbox push (the Worker asks before forwarding the upgrade). */
export type InboxCall = { op: 'access' } | { op: 'list'; query: InboxQuery } | { op: 'ack'; uris: string[] }

export type InboxReply = { items: InboxItem[]; cursor?: string } | { acked: number } | { ok: true }

export function inboxCall(items: Inbox, call: InboxCall): InboxReply {
  switch (call.op) {
    case 'access':
      return { ok: true as const }
    case 'list':
      return items.list(call.query)
    case 'ack':
      return { acked: items.ack(call.uris) }
  }
}
