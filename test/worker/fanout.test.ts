/**
 * The fan-out driven directly, with stand-in sockets and an in-memory event
 * source: paged replay and the switch to live, replay pacing, ConsumerTooSlow.
 */
import { describe, expect, it } from 'vitest'
import type { StoredEvent } from '../../src/relay/event-log.ts'
import { FanOut } from '../../src/relay/fanout.ts'
import { decodeFrame } from '../../src/relay/frames.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const EVENT_BYTES = 77

/** A stand-in socket for driving the fan-out directly. */
function fakeSocket() {
  const ws = {
    got: [] as Uint8Array[],
    closed: null as null | { code?: number; reason?: string },
    attachment: null as unknown,
    send(data: Uint8Array) {
      if (ws.closed) throw new Error('closed')
      ws.got.push(data)
    },
    close(code?: number, reason?: string) {
      ws.closed = { code, reason }
    },
    serializeAttachment(a: unknown) {
      ws.attachment = a
    },
    deserializeAttachment: () => ws.attachment,
  }
  return ws
}

function fakeSource(count: number, size = EVENT_BYTES) {
  const events: StoredEvent[] = []
  const add = (n: number) => {
    const added: StoredEvent[] = []
    for (let i = 0; i < n; i++) {
      const seq = events.length + 1
      const frame = new Uint8Array(size)
      new DataView(frame.buffer).setUint32(0, seq)
      events.push({ seq, frame })
      added.push({ seq, frame })
    }
    return added
  }
  add(count)
  let pruned = 0
  const source = {
    head: () => events.length,
    oldestSeq: () => (events.length > pruned ? pruned + 1 : null),
    page: (after: number, limit: number) =>
      events.filter((e) => e.seq > Math.max(after, pruned)).slice(0, limit),
  }
  const prune = (n: number) => {
    pruned = n
  }
  return { source, add, prune }
}

const host = { acceptWebSocket: () => {}, getWebSockets: () => [] }
/** The seqs of the event frames a socket got (stand-in events are EVENT_BYTES long). */
const seqs = (ws: ReturnType<typeof fakeSocket>) =>
  ws.got.filter((f) => f.length === EVENT_BYTES).map((f) => new DataView(f.buffer, f.byteOffset).getUint32(0))

describe('fan-out', () => {
  it('replays page by page and switches to live with no gap and no duplicate', async () => {
    const { source, add } = fakeSource(30)
    const fan = new FanOut(host, source, {
      pageSize: 7,
      maxBufferedBytes: 1 << 20,
      drainBytesPerSec: 1 << 20,
    })
    const ws = fakeSocket()
    fan.start(ws as unknown as WebSocket, 3)
    // Live events arrive while the socket is still replaying.
    fan.broadcast(add(5))
    for (let i = 0; i < 50 && seqs(ws).length < 32; i++) await sleep(5)
    fan.broadcast(add(3))
    expect(seqs(ws)).toEqual(Array.from({ length: 35 }, (_, i) => i + 4))
    // Saved when the socket went live; live positions are not saved per event.
    expect(ws.attachment).toEqual({ pos: 35, mode: 'live' })
  })

  it('paces a replay to the socket budget instead of flooding it', async () => {
    const { source } = fakeSource(50)
    const fan = new FanOut(host, source, { pageSize: 20, maxBufferedBytes: 1000, drainBytesPerSec: 0 })
    const ws = fakeSocket()
    fan.start(ws as unknown as WebSocket, 0)
    await sleep(30)
    // Half the 1000-byte bound: 7 frames of 77 bytes, then it waits for the socket to drain.
    expect(seqs(ws)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(ws.closed).toBeNull()
  })

  it('sends ConsumerTooSlow and closes a live socket that falls too far behind', async () => {
    const { source, add } = fakeSource(0)
    const fan = new FanOut(host, source, { pageSize: 20, maxBufferedBytes: 1000, drainBytesPerSec: 0 })
    const ws = fakeSocket()
    fan.start(ws as unknown as WebSocket, undefined)
    fan.broadcast(add(25))
    expect(seqs(ws).slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const last = decodeFrame(ws.got.at(-1)!)
    expect(last).toEqual({
      header: { op: -1 },
      body: { error: 'ConsumerTooSlow', message: expect.any(String) },
    })
    expect(ws.closed).toEqual({ code: 1008, reason: 'ConsumerTooSlow' })
    expect(fan.size).toBe(0)
  })

  it('flags a cursor older than the log with #info OutdatedCursor, then replays from the oldest', async () => {
    const { source, prune } = fakeSource(30)
    prune(10)
    const fan = new FanOut(host, source, {
      pageSize: 8,
      maxBufferedBytes: 1 << 20,
      drainBytesPerSec: 1 << 20,
    })
    const ws = fakeSocket()
    fan.start(ws as unknown as WebSocket, 3)
    for (let i = 0; i < 50 && seqs(ws).length < 20; i++) await sleep(5)
    expect(decodeFrame(ws.got[0]!)).toEqual({
      header: { op: 1, t: '#info' },
      body: { name: 'OutdatedCursor', message: expect.any(String) },
    })
    expect(seqs(ws)).toEqual(Array.from({ length: 20 }, (_, i) => i + 11))
  })

  it('resumes a replay after hibernation from the position saved with the socket', async () => {
    const { source } = fakeSource(40)
    const ws = fakeSocket()
    ws.attachment = { pos: 25, mode: 'replay' }
    const woken = { acceptWebSocket: () => {}, getWebSockets: () => [ws as unknown as WebSocket] }
    const fan = new FanOut(woken, source, {
      pageSize: 8,
      maxBufferedBytes: 1 << 20,
      drainBytesPerSec: 1 << 20,
    })
    for (let i = 0; i < 50 && seqs(ws).length < 15; i++) await sleep(5)
    expect(seqs(ws)).toEqual(Array.from({ length: 15 }, (_, i) => i + 26))
    expect(fan.size).toBe(1)
    expect(ws.attachment).toEqual({ pos: 40, mode: 'live' })
  })
})
