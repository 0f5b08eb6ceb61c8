/**
 * WebSocket pieces the relay benches share: counting subscribers, and the
 * floor every relay figure is compared with, a plain Node `ws` server on its
 * own thread (broadcast to N subscribers, and echo for round trips).
 */
import { Worker } from 'node:worker_threads'
import WebSocket from 'ws'
import { freePort } from '../test/e2e/network.ts'
import { percentile } from './lib.ts'

export const FLOOR = 'ws echo (floor)'

/**
 * Subscribers do not offer permessage-deflate. Murmur's Worker turns WebSocket
 * compression off (`no_web_socket_compression`: deflating every frame once per
 * subscriber does not scale on one thread), but wrangler dev's own proxy
 * worker negotiates it with any client that offers it, which would measure
 * that proxy, not the relay. The floor's server does not compress either.
 */
const NO_DEFLATE = { perMessageDeflate: false }

export interface Sub {
  ws: WebSocket
  frames: number
  bytes: number
  first: number
  last: number
  onFrame?: (data: Buffer, at: number) => void
}

export async function subscribe(url: string, n: number): Promise<Sub[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Sub>((resolve, reject) => {
          const ws = new WebSocket(url, NO_DEFLATE)
          const s: Sub = { ws, frames: 0, bytes: 0, first: 0, last: 0 }
          ws.on('message', (data: Buffer) => {
            const at = performance.now()
            if (s.frames === 0) s.first = at
            s.frames++
            s.bytes += data.length
            s.last = at
            s.onFrame?.(data, at)
          })
          ws.once('open', () => resolve(s))
          ws.once('error', reject)
        }),
    ),
  )
}

export function closeAll(subs: Sub[]) {
  for (const s of subs) s.ws.terminate()
}

export async function until(cond: () => boolean, ms: number) {
  const deadline = performance.now() + ms
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

// ── the floor: a plain ws server on its own thread ──

const FLOOR_THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const { WebSocketServer } = require('node:module').createRequire(workerData.base)('ws')
const wss = new WebSocketServer({ host: '127.0.0.1', port: workerData.port })
const subs = new Set()
wss.on('connection', (ws, req) => {
  if (req.url === '/sub') {
    subs.add(ws)
    ws.on('close', () => subs.delete(ws))
  } else if (req.url === '/pub') {
    ws.on('message', (m) => { for (const s of subs) s.send(m) })
  } else {
    ws.on('message', (m) => ws.send(m))
  }
})
wss.on('listening', () => parentPort.postMessage('listening'))
parentPort.on('message', () => wss.close(() => parentPort.postMessage('closed')))
`

export async function startFloor(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort()
  const thread = new Worker(FLOOR_THREAD, { eval: true, workerData: { port, base: import.meta.url } })
  await new Promise((resolve, reject) => {
    thread.once('message', resolve)
    thread.once('error', reject)
  })
  return {
    url: `ws://127.0.0.1:${port}`,
    stop: async () => {
      thread.postMessage('stop')
      await Promise.race([
        new Promise((r) => thread.once('message', r)),
        new Promise((r) => setTimeout(r, 2000)),
      ])
      await thread.terminate()
    },
  }
}

export async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, NO_DEFLATE)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return ws
}

/** Broadcast `count` messages of `size` bytes to `n` subscribers; delivered messages/s per subscriber. */
export async function floorBroadcast(url: string, n: number, size: number, count: number): Promise<number> {
  const subs = await subscribe(`${url}/sub`, n)
  await new Promise((r) => setTimeout(r, 50))
  const pub = await open(`${url}/pub`)
  const msg = Buffer.alloc(size, 7)
  const start = performance.now()
  // Sent in chunks, so the publisher does not outrun the subscribers' counting without limit.
  for (let i = 0; i < count; i++) {
    pub.send(msg)
    if (i % 500 === 499) await until(() => subs[0]!.frames >= i - 1000, 5000)
  }
  await until(() => subs.every((s) => s.frames >= count), 20_000)
  const rates = subs.map((s) => s.frames / ((s.last - start) / 1000))
  pub.terminate()
  closeAll(subs)
  return percentile(rates, 50)
}

/** Round trips paced at `rate`/s for `seconds`; latencies in ms. */
export async function floorEcho(url: string, size: number, rate: number, seconds: number): Promise<number[]> {
  const ws = await open(`${url}/echo`)
  const sent: number[] = []
  const lat: number[] = []
  ws.on('message', (data: Buffer) => {
    const i = data.readUInt32BE(0)
    lat.push(performance.now() - sent[i]!)
  })
  const total = Math.round(rate * seconds)
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    const msg = Buffer.alloc(size, 7)
    msg.writeUInt32BE(i, 0)
    sent[i] = performance.now()
    ws.send(msg)
  }
  await until(() => lat.length >= total, 5000)
  ws.terminate()
  return lat
}
