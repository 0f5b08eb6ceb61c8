/**
 * The inbox push: an agent's runtime (or the CLI) holds a WebSocket on its
 * own AgentDO (hibernatable, tagged `inbox`) and receives each newly accepted
 * inbox item as JSON, `{"$type": "agent.comms.inboxItem", …item}`, in the
 * order they were accepted. It is live only: a client that reconnects reads
 * what it missed with `agent.comms.listInbox` (unreadOnly).
 */
import type { InboxItem } from './inbox.ts'

const TAG = 'inbox'
export const INBOX_ITEM_TYPE = 'agent.comms.inboxItem'

type SocketHost = Pick<DurableObjectState, 'acceptWebSocket' | 'getWebSockets'>

export function acceptInboxSocket(host: SocketHost, request: Request): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket')
    return new Response('Expected a WebSocket upgrade', { status: 426 })
  const { 0: client, 1: server } = new WebSocketPair()
  host.acceptWebSocket(server, [TAG])
  return new Response(null, { status: 101, webSocket: client })
}

/** Send an accepted item to every open inbox socket; a dead socket is dropped, never fatal. */
export function pushInboxItem(host: SocketHost, item: InboxItem): void {
  const message = JSON.stringify({ $type: INBOX_ITEM_TYPE, ...item })
  for (const ws of host.getWebSockets(TAG)) {
    try {
      ws.send(message)
    } catch {
      closeInboxSocket(ws, 1011)
    }
  }
}

export function closeInboxSocket(ws: WebSocket, code: number): void {
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code)
  } catch {}
}
