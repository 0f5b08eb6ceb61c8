/**
 * Account lifecycle and identity: deactivation, the operator's listing and
 * deletion, handle and DID resolution, and the did:cf audit log.
 */
import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { atprotoKey, verifyAuditLog } from '../../src/identity/audit.ts'
import { ADMIN, BASE, createAgent, xrpc } from './helpers.ts'
import { expectFailure, head, NOTE, note, records } from './refusals.ts'

const write = (agent: { did: string }, token: string, text = 'hello') =>
  xrpc('com.atproto.repo.createRecord', {
    token,
    body: { repo: agent.did, collection: NOTE, record: note(text) },
  })

const login = async (identifier: string) => {
  const res = await xrpc('com.atproto.server.createSession', {
    body: { identifier, password: 'correct horse battery' },
  })
  expect(res.status).toBe(200)
  return res.body as { accessJwt: string; refreshJwt: string; active: boolean }
}

async function blobKeys(did: string): Promise<string[]> {
  return (await env.BLOBS.list({ prefix: `blobs/${did}/` })).objects.map((o) => o.key)
}

describe('deactivation', () => {
  it('refuses writes while deactivated, keeps reads, and takes writes again once activated', async () => {
    const a = await createAgent()
    const made = await write(a, a.accessJwt, 'before')
    expect(made.status).toBe(200)
    const rkey = made.body.uri.split('/').at(-1)

    const off = await xrpc('com.atproto.server.deactivateAccount', { token: a.accessJwt, type: 'none' })
    expect(off.status).toBe(200)
    const frozen = await head(a.did)
    const notes = await records(a.did)
    const blobs = await blobKeys(a.did)

    // Whichever session the agent holds, nothing it sends lands.
    expectFailure(await write(a, a.accessJwt, 'old session'))
    const s = await login(a.handle)
    const session = await xrpc('com.atproto.server.getSession', { token: s.accessJwt })
    expect(session.status).toBe(200)
    expect(session.body).toMatchObject({ did: a.did, active: false, status: 'deactivated' })
    expectFailure(await write(a, s.accessJwt, 'while deactivated'), 403)
    expectFailure(
      await xrpc('com.atproto.repo.putRecord', {
        token: s.accessJwt,
        body: { repo: a.did, collection: NOTE, rkey, record: note('edited') },
      }),
      403,
    )
    expectFailure(
      await xrpc('com.atproto.repo.deleteRecord', {
        token: s.accessJwt,
        body: { repo: a.did, collection: NOTE, rkey },
      }),
      403,
    )
    expectFailure(
      await xrpc('com.atproto.repo.applyWrites', {
        token: s.accessJwt,
        body: {
          repo: a.did,
          writes: [{ $type: 'com.atproto.repo.applyWrites#create', collection: NOTE, value: note('x') }],
        },
      }),
      403,
    )
    expectFailure(
      await xrpc('com.atproto.repo.uploadBlob', {
        raw: new Uint8Array([1, 2, 3]),
        type: 'image/png',
        token: s.accessJwt,
      }),
      403,
    )
    expect(await head(a.did)).toEqual(frozen)
    expect(await records(a.did)).toEqual(notes)
    expect(await blobKeys(a.did)).toEqual(blobs)

    // Reads still work.
    const got = await xrpc('com.atproto.repo.getRecord', {
      params: { repo: a.handle, collection: NOTE, rkey },
    })
    expect(got.status).toBe(200)
    expect(got.body.value.text).toBe('before')
    expect((await xrpc('com.atproto.sync.getRepo', { params: { did: a.did } })).status).toBe(200)
    expect((await xrpc('com.atproto.repo.describeRepo', { params: { repo: a.did } })).status).toBe(200)
    const status = await xrpc('com.atproto.sync.getRepoStatus', { params: { did: a.did } })
    expect(status.body).toMatchObject({ did: a.did, active: false, status: 'deactivated' })

    const on = await xrpc('com.atproto.server.activateAccount', { token: s.accessJwt, type: 'none' })
    expect(on.status).toBe(200)
    const after = await write(a, s.accessJwt, 'after')
    expect(after.status).toBe(200)
    expect(await records(a.did)).toHaveLength(2)
    expect((await xrpc('com.atproto.sync.getRepoStatus', { params: { did: a.did } })).body.active).toBe(true)
  })

  it('lets the operator deactivate and activate any agent', async () => {
    const a = await createAgent()
    const off = await xrpc('com.atproto.server.deactivateAccount', { token: ADMIN, body: { did: a.did } })
    expect(off.status).toBe(200)
    const s = await login(a.did)
    expectFailure(await write(a, s.accessJwt), 403)
    const on = await xrpc('com.atproto.server.activateAccount', { token: ADMIN, body: { did: a.handle } })
    expect(on.status).toBe(200)
    expect((await write(a, s.accessJwt)).status).toBe(200)
  })

  it('refuses account changes without credentials, or for a bad or unknown DID', async () => {
    const a = await createAgent()
    for (const method of ['deactivateAccount', 'activateAccount']) {
      expectFailure(await xrpc(`com.atproto.server.${method}`, { type: 'none' }), 401)
      expectFailure(await xrpc(`com.atproto.server.${method}`, { token: 'garbage', type: 'none' }), 401)
      for (const did of ['not a did', 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa', 42])
        expectFailure(await xrpc(`com.atproto.server.${method}`, { token: ADMIN, body: { did } }), 400)
      expectFailure(await xrpc(`com.atproto.server.${method}`, { token: ADMIN, type: 'none' }), 400)
    }
    const status = await xrpc('com.atproto.sync.getRepoStatus', { params: { did: a.did } })
    expect(status.body.active).toBe(true)
  })
})

describe('the operator', () => {
  it('pages through every agent with listAgents', async () => {
    const mine = new Set<string>()
    for (let i = 0; i < 5; i++) mine.add((await createAgent()).did)
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await xrpc('agent.admin.listAgents', {
        token: ADMIN,
        params: { limit: '2', ...(cursor ? { cursor } : {}) },
      })
      expect(page.status).toBe(200)
      expect(page.body.agents.length).toBeLessThanOrEqual(2)
      for (const agent of page.body.agents) {
        expect(agent).toMatchObject({
          did: expect.any(String),
          handle: expect.any(String),
          status: expect.any(String),
        })
        seen.push(agent.did)
      }
      cursor = page.body.cursor
      if (cursor) expect(cursor).toBe(page.body.agents.at(-1).did)
      pages++
    } while (cursor && pages < 1000)
    expect(pages).toBeGreaterThanOrEqual(3)
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen).toEqual([...seen].sort())
    for (const did of mine) expect(seen).toContain(did)
  })

  it('deletes an account: its repo, handle and host are gone, and it cannot log in', async () => {
    const a = await createAgent()
    const made = await write(a, a.accessJwt)
    const rkey = made.body.uri.split('/').at(-1)
    // Warm any lookup cache by handle and by DID first.
    expect(
      (await xrpc('com.atproto.repo.getRecord', { params: { repo: a.handle, collection: NOTE, rkey } }))
        .status,
    ).toBe(200)
    expect((await head(a.did)).cid).toBeTruthy()

    expectFailure(await xrpc('agent.admin.deleteAccount', { token: a.accessJwt, body: { did: a.did } }), 401)
    const del = await xrpc('agent.admin.deleteAccount', { token: ADMIN, body: { did: a.did } })
    expect(del.status).toBe(200)
    expect(del.body).toEqual({ did: a.did, status: 'deleted' })

    for (const repo of [a.did, a.handle]) {
      expectFailure(
        await xrpc('com.atproto.sync.getLatestCommit', { params: { did: repo } }),
        400,
        'RepoNotFound',
      )
      expectFailure(await xrpc('com.atproto.sync.getRepo', { params: { did: repo } }), 400, 'RepoNotFound')
      expectFailure(
        await xrpc('com.atproto.repo.getRecord', { params: { repo, collection: NOTE, rkey } }),
        400,
        'RepoNotFound',
      )
      expectFailure(
        await xrpc('com.atproto.repo.listRecords', { params: { repo, collection: NOTE } }),
        400,
        'RepoNotFound',
      )
      expectFailure(await xrpc('com.atproto.repo.describeRepo', { params: { repo } }), 400, 'RepoNotFound')
    }
    expectFailure(await xrpc('com.atproto.identity.resolveHandle', { params: { handle: a.handle } }), 400)
    expect((await SELF.fetch(`http://${a.handle}/.well-known/atproto-did`)).status).toBe(404)
    expectFailure(await write(a, a.accessJwt))
    expectFailure(
      await xrpc('com.atproto.server.createSession', {
        body: { identifier: a.handle, password: 'correct horse battery' },
      }),
    )
    const repos = await xrpc('com.atproto.sync.listRepos', { params: { limit: '1000' } })
    expect(repos.body.repos.map((r: { did: string }) => r.did)).not.toContain(a.did)
    // Deleting again, or an unknown or malformed DID, is a clean 400.
    for (const did of [a.did, 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa', 'nonsense'])
      expectFailure(await xrpc('agent.admin.deleteAccount', { token: ADMIN, body: { did } }), 400)
  })
})

describe('identity resolution', () => {
  it('answers /.well-known/atproto-did on a handle host, and 404 elsewhere', async () => {
    const a = await createAgent()
    const res = await SELF.fetch(`http://${a.handle}/.well-known/atproto-did`)
    expect(res.status).toBe(200)
    expect((await res.text()).trim()).toBe(a.did)
    const upper = await SELF.fetch(`http://${a.handle.toUpperCase()}/.well-known/atproto-did`)
    expect(await upper.text()).toBe(a.did)
    for (const url of [
      `${BASE}/.well-known/atproto-did`,
      'http://nobody-here.agents.test/.well-known/atproto-did',
      'http://localhost/.well-known/atproto-did',
      `http://sub.${a.handle}/.well-known/atproto-did`,
    ])
      expect((await SELF.fetch(url)).status).toBe(404)
  })

  it('resolves known handles and DIDs, and refuses unknown and malformed ones', async () => {
    const a = await createAgent()
    for (const handle of [a.handle, a.handle.toUpperCase()]) {
      const res = await xrpc('com.atproto.identity.resolveHandle', { params: { handle } })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ did: a.did })
    }
    expectFailure(
      await xrpc('com.atproto.identity.resolveHandle', { params: { handle: 'nobody-here.agents.test' } }),
      400,
      'HandleNotFound',
    )
    for (const handle of ['bad_handle!', '', 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa'])
      expectFailure(await xrpc('com.atproto.identity.resolveHandle', { params: { handle } }), 400)
    expectFailure(await xrpc('com.atproto.identity.resolveHandle'), 400)

    const doc = await xrpc('com.atproto.identity.resolveDid', { params: { did: a.did } })
    expect(doc.status).toBe(200)
    expect(doc.body.didDoc.id).toBe(a.did)
    expect(doc.body.didDoc.alsoKnownAs).toContain(`at://${a.handle}`)
    const direct = await SELF.fetch(`${BASE}/did/${a.did}`)
    expect(direct.status).toBe(200)
    expect(await direct.json()).toEqual(doc.body.didDoc)

    expectFailure(
      await xrpc('com.atproto.identity.resolveDid', { params: { did: 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa' } }),
      undefined,
      'DidNotFound',
    )
    for (const did of ['not-a-did', 'did:', '', a.handle])
      expectFailure(await xrpc('com.atproto.identity.resolveDid', { params: { did } }), 400)
    for (const path of ['/did/not-a-did', '/did/not-a-did/log/audit'])
      expect((await SELF.fetch(`${BASE}${path}`)).status).toBe(400)
    for (const path of [
      '/did/did:cf:aaaaaaaaaaaaaaaaaaaaaaaa',
      '/did/did:cf:aaaaaaaaaaaaaaaaaaaaaaaa/log/audit',
    ])
      expect((await SELF.fetch(`${BASE}${path}`)).status).toBe(404)
  })

  it('serves an audit log that verifies, before and after a key rotation', async () => {
    const a = await createAgent()
    const fetchLog = async () => {
      const res = await SELF.fetch(`${BASE}/did/${a.did}/log/audit`)
      expect(res.status).toBe(200)
      return (await res.json()) as Parameters<typeof verifyAuditLog>[1]
    }
    const log = await fetchLog()
    expect(log).toHaveLength(1)
    const genesis = await verifyAuditLog(a.did, log)
    const doc = (await xrpc('com.atproto.identity.resolveDid', { params: { did: a.did } })).body.didDoc
    expect(`did:key:${doc.verificationMethod[0].publicKeyMultibase}`).toBe(atprotoKey(genesis))
    expect(genesis.alsoKnownAs).toContain(`at://${a.handle}`)

    const rotated = await xrpc('agent.admin.rotateSigningKey', { token: ADMIN, body: { did: a.did } })
    expect(rotated.status).toBe(200)
    const log2 = await fetchLog()
    expect(log2).toHaveLength(2)
    expect(atprotoKey(await verifyAuditLog(a.did, log2))).toBe(rotated.body.signingKey)
    // The agent keeps writing under its new key.
    expect((await write(a, a.accessJwt)).status).toBe(200)

    // A log someone tampered with does not verify.
    const tampered = structuredClone(log2)
    tampered[1]!.operation.alsoKnownAs = ['at://someone-else.agents.test']
    await expect(verifyAuditLog(a.did, tampered)).rejects.toThrow()
    await expect(verifyAuditLog(a.did, log2.slice(1))).rejects.toThrow()
  })
})
