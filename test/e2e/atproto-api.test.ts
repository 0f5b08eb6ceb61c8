/**
 * `@atproto/api`'s AtpAgent against a real `wrangler dev` network: accounts,
 * login, CRUD, pagination, blobs, refresh, logout; and `@atproto/repo`
 * verifying our exported CARs with the key from our resolved DID document,
 * before and after a key rotation.
 */
import { AtpAgent } from '@atproto/api'
import { verifyRepoCar } from '@atproto/repo'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Network, startNetwork } from './network.ts'

let net: Network
beforeAll(async () => {
  net = await startNetwork()
})
afterAll(() => net?.stop())

async function admin(method: string, body: unknown) {
  const res = await fetch(`${net.url}/xrpc/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${net.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

async function signingKey(did: string): Promise<string> {
  const doc = (await (await fetch(`${net.url}/did/${did}`)).json()) as {
    verificationMethod: Array<{ id: string; publicKeyMultibase: string }>
  }
  const vm = doc.verificationMethod.find((v) => v.id.endsWith('#atproto'))!
  return `did:key:${vm.publicKeyMultibase}`
}

async function exportCar(did: string): Promise<Uint8Array> {
  const res = await fetch(`${net.url}/xrpc/com.atproto.sync.getRepo?did=${did}`)
  return new Uint8Array(await res.arrayBuffer())
}

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

describe('AtpAgent against Murmur', () => {
  it('creates an account, logs in, does CRUD with pagination, blobs, refresh and logout', async () => {
    const created = await admin('com.atproto.server.createAccount', {
      handle: 'alice',
      password: 'alice-password-1',
    })
    expect(created.status).toBe(200)
    const did = created.body.did as string

    const agent = new AtpAgent({ service: net.url })
    await agent.login({ identifier: 'alice.agents.test', password: 'alice-password-1' })
    expect(agent.session?.did).toBe(did)
    // The session's DID document names this network as the PDS, and AtpAgent follows it.
    expect(agent.pdsUrl?.origin).toBe(net.url)

    const uris: string[] = []
    for (let i = 0; i < 12; i++) {
      const res = await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: 'agent.memory.note',
        record: note(`n${i}`),
      })
      uris.push(res.data.uri)
    }
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await agent.com.atproto.repo.listRecords({
        repo: did,
        collection: 'agent.memory.note',
        limit: 5,
        cursor,
      })
      seen.push(...page.data.records.map((r) => r.uri))
      cursor = page.data.cursor
    } while (cursor)
    expect(new Set(seen)).toEqual(new Set(uris))

    const rkey = uris[0]!.split('/').at(-1)!
    const got = await agent.com.atproto.repo.getRecord({ repo: did, collection: 'agent.memory.note', rkey })
    expect((got.data.value as { text: string }).text).toBe('n0')
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: 'agent.memory.note',
      rkey,
      record: note('edited'),
    })
    await agent.com.atproto.repo.deleteRecord({
      repo: did,
      collection: 'agent.memory.note',
      rkey: uris[1]!.split('/').at(-1)!,
    })
    const described = await agent.com.atproto.repo.describeRepo({ repo: did })
    expect(described.data.collections).toEqual(['agent.memory.note'])

    const bytes = new Uint8Array(2048).map((_, i) => (i * 7) % 256)
    const blob = await agent.com.atproto.repo.uploadBlob(bytes, { encoding: 'image/png' })
    expect(blob.data.blob.size).toBe(bytes.length)
    const fetched = await agent.com.atproto.sync.getBlob({ did, cid: blob.data.blob.ref.toString() })
    expect(fetched.headers['content-type']).toBe('image/png')
    expect(new Uint8Array(fetched.data)).toEqual(bytes)
    const listed = await agent.com.atproto.sync.listBlobs({ did })
    expect(listed.data.cids).toContain(blob.data.blob.ref.toString())

    const refreshed = await agent.com.atproto.server.refreshSession(undefined, {
      headers: { authorization: `Bearer ${agent.session!.refreshJwt}` },
    })
    expect(refreshed.data.did).toBe(did)
    await agent.logout()
    const after = await fetch(`${net.url}/xrpc/com.atproto.server.getSession`, {
      headers: { authorization: `Bearer ${refreshed.data.accessJwt}` },
    })
    // Logging out ends the session, so its refreshed access token dies with it.
    expect(after.status).toBe(401)
  })

  it('exports CARs that @atproto/repo verifies, before and after a key rotation', async () => {
    const created = await admin('com.atproto.server.createAccount', {
      handle: 'bob',
      password: 'bob-password-123',
    })
    const did = created.body.did as string
    const agent = new AtpAgent({ service: net.url })
    await agent.login({ identifier: did, password: 'bob-password-123' })
    for (let i = 0; i < 5; i++)
      await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: 'agent.memory.note',
        record: note(`b${i}`),
      })

    const keyBefore = await signingKey(did)
    const carBefore = await exportCar(did)
    const v1 = await verifyRepoCar(carBefore, did, keyBefore)
    expect(v1.creates).toHaveLength(5)

    const rotated = await admin('agent.admin.rotateSigningKey', { did })
    expect(rotated.status).toBe(200)
    const keyAfter = await signingKey(did)
    expect(keyAfter).not.toBe(keyBefore)
    await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: 'agent.memory.note',
      record: note('after'),
    })
    const v2 = await verifyRepoCar(await exportCar(did), did, keyAfter)
    expect(v2.creates).toHaveLength(6)
    // The old export still verifies with the key the audit log held then.
    const log = (await (await fetch(`${net.url}/did/${did}/log/audit`)).json()) as Array<{
      operation: { verificationMethods: { atproto: string } }
    }>
    expect(log).toHaveLength(2)
    expect(log[0]!.operation.verificationMethods.atproto).toBe(keyBefore)
    await expect(
      verifyRepoCar(carBefore, did, log[0]!.operation.verificationMethods.atproto),
    ).resolves.toBeDefined()
    await expect(verifyRepoCar(carBefore, did, keyAfter)).rejects.toThrow()
  })
})
