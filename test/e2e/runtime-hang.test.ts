/**
 * A model provider that accepts the request and never answers, on a real
 * `wrangler dev`: each model call is cut off by MURMUR_MODEL_TIMEOUT_MS, the
 * turn is retried by the Queue with backoff, and after its last attempt it is
 * `failed` with the timeout as its error. The agent answers other calls all
 * the while (the turn runs in the Queue consumer, not in the agent's object).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createAccount, type Network, startNetwork, xrpcPost } from './network.ts'

describe('a hung model provider', () => {
  let net: Network | undefined
  let server: Server | undefined
  const held: ServerResponse[] = []
  let requests = 0
  afterAll(async () => {
    await net?.stop()
    for (const res of held) res.destroy()
    await new Promise((r) => (server ? server.close(r) : r(undefined)))
  })

  it('times the call out, retries the turn, fails it visibly, and the agent keeps answering', async () => {
    // Started before the network: its address is the network's OPENAI_BASE_URL.
    server = createServer((_req: IncomingMessage, res: ServerResponse) => {
      requests++
      held.push(res) // never answered
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    net = await startNetwork({
      env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, MURMUR_MODEL_TIMEOUT_MS: '1000' },
    })
    const agent = await createAccount(net, 'patient')
    const get = async (method: string, params: Record<string, string>) => {
      const res = await fetch(`${net!.url}/xrpc/${method}?${new URLSearchParams(params)}`, {
        headers: { authorization: `Bearer ${agent.accessJwt}` },
        signal: AbortSignal.timeout(10_000),
      })
      const body = (await res.json()) as Record<string, any>
      expect(res.status, JSON.stringify(body)).toBe(200)
      return body
    }
    const { turn } = (await xrpcPost(
      net.url,
      'agent.runtime.prompt',
      { text: 'What is up?' },
      agent.accessJwt,
    )) as {
      turn: string
    }
    const t0 = Date.now()
    let last: Record<string, any> = {}
    let searchesWhileRunning = 0
    while (Date.now() - t0 < 60_000) {
      last = (await get('agent.runtime.getTurn', { turn })).turn
      if (last.state === 'failed' || last.state === 'done') break
      // Meanwhile the agent answers, promptly.
      const s0 = Date.now()
      await get('agent.memory.search', { q: 'anything' })
      expect(Date.now() - s0).toBeLessThan(5_000)
      searchesWhileRunning++
      await new Promise((r) => setTimeout(r, 250))
    }
    console.log(`hung provider: turn ${last.state} after ${Date.now() - t0} ms, attempts ${last.attempts}`)
    expect(last.state).toBe('failed')
    expect(last.attempts).toBeGreaterThan(1)
    expect(last.error).toMatch(/timed out after 1000 ms/)
    expect(last.note).toBeUndefined()
    expect(requests).toBeGreaterThanOrEqual(last.attempts)
    expect(searchesWhileRunning).toBeGreaterThan(0)
  })
})
