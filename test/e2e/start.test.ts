import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Network, startNetwork } from './network.ts'

describe('npm start: a real wrangler dev network', () => {
  let net: Network
  beforeAll(async () => {
    net = await startNetwork({ env: { MURMUR_DOMAIN: 'example.net' } })
  })
  afterAll(() => net?.stop())

  it('prints its URL once ready and answers health', async () => {
    expect(net.output()).toContain(`running at ${net.url}`)
    const res = await fetch(`${net.url}/xrpc/_health`)
    expect(await res.json()).toMatchObject({ version: expect.any(String) })
  })

  it('takes the handle domain from MURMUR_DOMAIN', async () => {
    const res = await fetch(`${net.url}/xrpc/com.atproto.server.describeServer`)
    expect(await res.json()).toMatchObject({ availableUserDomains: ['.example.net'] })
  })

  it('answers unknown methods with 501 and unknown paths with 404', async () => {
    expect((await fetch(`${net.url}/xrpc/com.example.nothing`)).status).toBe(501)
    expect((await fetch(`${net.url}/nothing`)).status).toBe(404)
  })
})
