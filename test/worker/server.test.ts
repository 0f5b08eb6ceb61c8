import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

const BASE = 'http://127.0.0.1:8787'

describe('the live server', () => {
  it('answers _health with its version', async () => {
    const res = await SELF.fetch(`${BASE}/xrpc/_health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) })
  })

  it('describes itself in the standard describeServer shape', async () => {
    const res = await SELF.fetch(`${BASE}/xrpc/com.atproto.server.describeServer`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { did: string; availableUserDomains: string[] }
    expect(body.did).toMatch(/^did:web:/)
    expect(body.availableUserDomains).toEqual(['.agents.test'])
  })

  it('answers unknown XRPC methods with 501 MethodNotImplemented', async () => {
    for (const method of ['GET', 'POST']) {
      const res = await SELF.fetch(`${BASE}/xrpc/com.example.nothing`, { method })
      expect(res.status).toBe(501)
      expect(await res.json()).toMatchObject({ error: 'MethodNotImplemented' })
    }
  })

  it('answers unknown non-XRPC paths with 404', async () => {
    const res = await SELF.fetch(`${BASE}/no/such/page`)
    expect(res.status).toBe(404)
  })
})
