/**
 * Memory on a real `wrangler dev` started the way `npm start` starts it: the
 * offline embedding service runs beside it on loopback, so search is semantic
 * with no network; a memory survives a restart of the whole network, and so
 * does its index.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAccount, type Network, startNetwork, xrpcPost } from './network.ts'

type Agent = { did: string; accessJwt: string }

async function search(net: Network, agent: Agent, q: string) {
  const res = await fetch(`${net.url}/xrpc/agent.memory.search?q=${encodeURIComponent(q)}&limit=3`, {
    headers: { authorization: `Bearer ${agent.accessJwt}` },
    signal: AbortSignal.timeout(30_000),
  })
  const body = (await res.json()) as { results: { uri: string }[] }
  expect(res.status, JSON.stringify(body)).toBe(200)
  return body.results.map((r) => r.uri)
}

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

describe('memory on wrangler dev', () => {
  let net: Network | undefined
  const stateDir = mkdtempSync(join(tmpdir(), 'murmur-memory-'))
  afterAll(async () => {
    await net?.stop()
    rmSync(stateDir, { recursive: true, force: true })
  })

  it('searches by meaning with the offline model, across a restart', async () => {
    net = await startNetwork({ stateDir })
    expect(net.output()).toMatch(/embed server listening on http:\/\/127\.0\.0\.1:\d+\/v1/)
    const agent = await createAccount(net, 'rememberer')
    const remember = (text: string) =>
      xrpcPost(net!.url, 'agent.memory.remember', { record: note(text) }, agent.accessJwt) as Promise<{
        uri: string
      }>
    const leak = await remember('The API gateway leaks memory when websocket clients disconnect abruptly.')
    await remember('Quarterly planning moved to the second week of January.')
    await remember('The design system now ships a dark theme.')
    expect((await search(net, agent, 'why is the proxy using more and more RAM?'))[0]).toBe(leak.uri)

    const { secrets } = net
    await net.stop()
    net = await startNetwork({ stateDir, secrets })
    expect((await search(net, agent, 'why is the proxy using more and more RAM?'))[0]).toBe(leak.uri)
  })
})
