/**
 * The fan-out: subscriber sockets (WebSocket Hibernation API), their cursors,
 * replay from the log, and the switch to live. It reads events through the
 * `EventSource` seam and never writes the log, so several fan-out objects can
 * later hang off one sequencer (see docs/relay.md).
 *
 * Flow control: workerd has no `WebSocket.bufferedAmount` (cloudflare/workerd#988),
 * so each socket carries an estimate of what it has not yet read: bytes sent,
 * drained at an assumed floor rate. Replays are paced to stay under half the
 * bound; a live consumer whose estimate passes the bound gets `ConsumerTooSlow`.
 * Where the runtime reports a real `bufferedAmount`, that is used instead.
 */
import type { StoredEvent } from './event-log.ts'
import { errorFrame, infoFrame } from './frames.ts'

export interface EventSource {
  /** The newest seq (0 before the first event). */
  head(): number
  /** The oldest retained seq, or null when nothing is retained. */
  oldestSeq(): number | null
  /** Events with seq > `after`, oldest first. */
  page(after: number, limit: number): StoredEvent[]
}

export interface FanOutOptions {
  /** Events read from the log per replay step. */
  pageSize: number
  /** A socket's estimated unread bytes beyond this: ConsumerTooSlow. */
  maxBufferedBytes: number
  /** The rate a consumer is assumed to read at, at least (bytes/s). */
  drainBytesPerSec: number
}

/**
 * What a socket receives of each event. Without a view: the stored frame
 * (subscribeRepos). With one: the view's filtered rendering (Jetstream).
 */
export interface StreamView {
  /** Serialisable; saved with the socket so the view survives hibernation. */
  readonly state: unknown
  render(e: StoredEvent): readonly string[]
}
export type ViewFactory = (state: unknown) => StreamView

export const DEFAULT_FANOUT: FanOutOptions = {
  pageSize: 500,
  maxBufferedBytes: 16 * 1024 * 1024,
  drainBytesPerSec: 8 * 1024 * 1024,
}

/** `hold`: positioned, but sending nothing until the client's hello (Jetstream `requireHello`). */
type Mode = 'replay' | 'live' | 'hold'
interface Attachment {
  pos: number
  mode: Mode
  view?: unknown
}
interface Sub {
  pos: number
  mode: Mode
  view?: StreamView
  /** Estimated bytes sent and not yet read, as of `at`. */
  buffered: number
  at: number
  scheduled: boolean
}

/** Policy violation: the close code that follows an error frame. */
const CLOSE_ERROR = 1008

type SocketHost = Pick<DurableObjectState, 'acceptWebSocket' | 'getWebSockets'>

export class FanOut {
  private readonly subs = new Map<WebSocket, Sub>()

  constructor(
    private readonly host: SocketHost,
    private readonly source: EventSource,
    private readonly opts: FanOutOptions = DEFAULT_FANOUT,
    makeView?: ViewFactory,
  ) {
    // Waking from hibernation: live sockets had every event sent before the
    // object slept; replays resume from the position saved with the socket.
    for (const ws of host.getWebSockets()) {
      const a = ws.deserializeAttachment() as Attachment | null
      if (!a) continue
      const pos = a.mode === 'live' ? source.head() : a.pos
      const view = a.view !== undefined && makeView ? makeView(a.view) : undefined
      this.add(ws, { pos, mode: a.mode, view, buffered: 0, at: Date.now(), scheduled: false })
    }
  }

  get size(): number {
    return this.subs.size
  }

  /** Accept a subscriber; `cursor` undefined means live only. Returns the 101 response. */
  subscribe(cursor: number | undefined): Response {
    return this.accept((ws) => this.start(ws, cursor))
  }

  private accept(position: (ws: WebSocket) => void): Response {
    const { 0: client, 1: server } = new WebSocketPair()
    this.host.acceptWebSocket(server)
    position(server)
    return new Response(null, { status: 101, webSocket: client })
  }

  /** Position a new socket: error out a future cursor, flag an outdated one, replay or go live. */
  start(ws: WebSocket, cursor: number | undefined): void {
    const head = this.source.head()
    if (cursor !== undefined && cursor > head) {
      this.fail(ws, 'FutureCursor', 'Cursor in the future.')
      return
    }
    let pos = cursor ?? head
    if (cursor !== undefined) {
      const first = this.source.oldestSeq() ?? head + 1
      if (cursor + 1 < first) {
        ws.send(infoFrame('OutdatedCursor', 'Requested cursor exceeded limit. Possibly missing events'))
        pos = first - 1
      }
    }
    this.add(ws, { pos, mode: pos < head ? 'replay' : 'live', buffered: 0, at: Date.now(), scheduled: false })
    this.persist(ws)
  }

  /**
   * Accept a socket with a view, at a position already resolved to a seq
   * (replay after `pos`); `hold` sends nothing until `setView`.
   */
  subscribeView(pos: number, view: StreamView, hold: boolean): Response {
    return this.accept((ws) => this.startView(ws, pos, view, hold))
  }

  startView(ws: WebSocket, pos: number, view: StreamView, hold: boolean): void {
    const head = this.source.head()
    const at = Math.min(pos, head)
    const mode: Mode = hold ? 'hold' : at < head ? 'replay' : 'live'
    this.add(ws, { pos: at, mode, view, buffered: 0, at: Date.now(), scheduled: false })
    this.persist(ws)
  }

  /** The socket's view, if it has one. */
  viewOf(ws: WebSocket): StreamView | undefined {
    return this.subs.get(ws)?.view
  }

  /** Replace a socket's view (new filters); a held socket starts from where it was positioned. */
  setView(ws: WebSocket, view: StreamView): void {
    const sub = this.subs.get(ws)
    if (!sub) return
    sub.view = view
    if (sub.mode === 'hold') {
      sub.mode = sub.pos < this.source.head() ? 'replay' : 'live'
      if (sub.mode === 'replay') this.schedule(ws, sub, 0)
    }
    this.persist(ws)
  }

  /** Newly sequenced events, in seq order: to every live socket. */
  broadcast(events: StoredEvent[]): void {
    if (events.length === 0) return
    for (const [ws, sub] of this.subs) {
      if (sub.mode !== 'live') continue
      for (const e of events) {
        if (e.seq <= sub.pos) continue
        if (e.seq > sub.pos + 1) {
          // Should not happen; if it does, the log fills the hole.
          sub.mode = 'replay'
          this.schedule(ws, sub, 0)
          break
        }
        if (!this.push(ws, sub, e)) break
      }
    }
  }

  /** A socket closed or failed (or is being closed, with a code): forget it. */
  closed(ws: WebSocket, code?: number, reason?: string): void {
    this.subs.delete(ws)
    try {
      if (code === undefined) ws.close()
      else ws.close(code, reason)
    } catch {}
  }

  private add(ws: WebSocket, sub: Sub): void {
    this.subs.set(ws, sub)
    if (sub.mode === 'replay') this.schedule(ws, sub, 0)
  }

  private persist(ws: WebSocket): void {
    const sub = this.subs.get(ws)
    if (!sub) return
    const a: Attachment = { pos: sub.pos, mode: sub.mode }
    if (sub.view) a.view = sub.view.state
    ws.serializeAttachment(a)
  }

  /** What a socket has not read yet: the runtime's figure if it has one, else the estimate. */
  private backlog(ws: WebSocket, sub: Sub, now: number): number {
    const real = (ws as { bufferedAmount?: unknown }).bufferedAmount
    if (typeof real === 'number') return real
    sub.buffered = Math.max(0, sub.buffered - ((now - sub.at) * this.opts.drainBytesPerSec) / 1000)
    sub.at = now
    return sub.buffered
  }

  /** Send one event; false when the socket is gone (or has just been dropped as too slow). */
  private push(ws: WebSocket, sub: Sub, e: StoredEvent): boolean {
    const out = sub.view ? sub.view.render(e) : [e.frame]
    let bytes = 0
    for (const m of out) bytes += typeof m === 'string' ? m.length : m.byteLength
    const backlog = this.backlog(ws, sub, Date.now())
    if (sub.mode === 'live' && backlog + bytes > this.opts.maxBufferedBytes) {
      this.fail(ws, 'ConsumerTooSlow', 'Stream consumer too slow')
      return false
    }
    try {
      for (const m of out) ws.send(m)
    } catch {
      this.subs.delete(ws)
      return false
    }
    sub.buffered += bytes
    sub.pos = e.seq
    return true
  }

  private fail(ws: WebSocket, error: string, message: string): void {
    const view = this.subs.get(ws)?.view
    this.subs.delete(ws)
    try {
      // A view's stream (JSON) has no error frames: the close reason says why.
      if (!view) ws.send(errorFrame(error, message))
      ws.close(CLOSE_ERROR, error)
    } catch {}
  }

  private schedule(ws: WebSocket, sub: Sub, ms: number): void {
    if (sub.scheduled) return
    sub.scheduled = true
    setTimeout(() => {
      sub.scheduled = false
      this.step(ws, sub)
    }, ms)
  }

  /**
   * One replay step: a page from the log, as much as the socket's budget
   * allows. Reading the log and going live happen in one synchronous step, so
   * no event can slip between the replay and the live stream.
   */
  private step(ws: WebSocket, sub: Sub): void {
    if (this.subs.get(ws) !== sub || sub.mode !== 'replay') return
    const budget = this.opts.maxBufferedBytes / 2
    const backlog = this.backlog(ws, sub, Date.now())
    if (backlog >= budget) {
      const wait = ((backlog - budget / 2) * 1000) / Math.max(1, this.opts.drainBytesPerSec)
      this.schedule(ws, sub, Math.min(1000, Math.ceil(wait)))
      return
    }
    const head = this.source.head()
    const page = this.source.page(sub.pos, this.opts.pageSize)
    const next = page[0]?.seq ?? head + 1
    if (next > sub.pos + 1) {
      // Pruned while this socket replayed slowly: say so, then carry on from what is left.
      if (!sub.view)
        ws.send(infoFrame('OutdatedCursor', 'Requested cursor exceeded limit. Possibly missing events'))
      sub.pos = next - 1
    }
    for (const e of page) {
      if (!this.push(ws, sub, e)) return
      if (this.backlog(ws, sub, Date.now()) >= budget) break
    }
    if (sub.pos >= head) sub.mode = 'live'
    this.persist(ws)
    if (sub.mode === 'replay') this.schedule(ws, sub, 0)
  }
}
