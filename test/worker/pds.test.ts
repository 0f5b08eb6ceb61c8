import { describe, expect, it } from 'vitest'
import { parseCar } from '../../src/atproto/car.ts'
import { cidToString } from '../../src/atproto/cid.ts'
import { verifyRepoCar } from '../../src/atproto/repo/index.ts'
import { TidClock } from '../../src/atproto/syntax/index.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

describe('accounts and sessions', () => {
  it('creates an agent with a did:cf identity and a session', async () => {
    const a = await createAgent()
    expect(a.did).toMatch(/^did:cf:[a-z2-7]{24}$/)
    expect(a.handle).toMatch(/\.agents\.test$/)
    const s = await xrpc('com.atproto.server.getSession', { token: a.accessJwt })
    expect(s.status).toBe(200)
    expect(s.body).toMatchObject({ did: a.did, handle: a.handle, active: true })
  })

  it('needs the admin token to create accounts', async () => {
    const res = await xrpc('com.atproto.server.createAccount', {
      body: { handle: 'nobody', password: 'abcdefgh1' },
    })
    expect(res.status).toBe(401)
    expect(res.body.error).toBe('AuthRequired')
  })

  it('refuses a taken handle', async () => {
    const a = await createAgent()
    const res = await xrpc('com.atproto.server.createAccount', {
      body: { handle: a.handle, password: 'abcdefgh1' },
      token: ADMIN,
    })
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('HandleNotAvailable')
  })

  it('logs in by handle or DID, refreshes, and really revokes on logout', async () => {
    const a = await createAgent()
    for (const identifier of [a.handle, a.did]) {
      const s = await xrpc('com.atproto.server.createSession', {
        body: { identifier, password: 'correct horse battery' },
      })
      expect(s.status).toBe(200)
      expect(s.body.did).toBe(a.did)
    }
    const bad = await xrpc('com.atproto.server.createSession', {
      body: { identifier: a.handle, password: 'wrong password' },
    })
    expect(bad.status).toBe(401)

    const r = await xrpc('com.atproto.server.refreshSession', { token: a.refreshJwt, type: 'none' })
    expect(r.status).toBe(200)
    // The old refresh token is spent.
    expect(
      (await xrpc('com.atproto.server.refreshSession', { token: a.refreshJwt, type: 'none' })).status,
    ).toBe(400)
    const del = await xrpc('com.atproto.server.deleteSession', { token: r.body.refreshJwt, type: 'none' })
    expect(del.status).toBe(200)
    expect((await xrpc('com.atproto.server.getSession', { token: r.body.accessJwt })).status).toBe(401)
  })

  it('rejects forged and malformed tokens', async () => {
    const a = await createAgent()
    const [h, p] = a.accessJwt.split('.')
    const forged = `${h}.${p}.${'A'.repeat(43)}`
    for (const token of [forged, 'nonsense', a.refreshJwt]) {
      const res = await xrpc('com.atproto.server.getSession', { token })
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      expect(typeof res.body.error).toBe('string')
    }
  })
})

describe('records', () => {
  it('creates, reads, lists, updates and deletes records', async () => {
    const a = await createAgent()
    const created = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', record: note('hello') },
    })
    expect(created.status).toBe(200)
    expect(created.body.uri).toMatch(new RegExp(`^at://${a.did}/agent.memory.note/`))
    expect(created.body.validationStatus).toBe('valid')
    const rkey = created.body.uri.split('/').at(-1)

    const got = await xrpc('com.atproto.repo.getRecord', {
      params: { repo: a.handle, collection: 'agent.memory.note', rkey },
    })
    expect(got.body).toMatchObject({ uri: created.body.uri, cid: created.body.cid, value: { text: 'hello' } })

    const put = await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.memory.note',
        rkey,
        record: note('edited'),
        swapRecord: created.body.cid,
      },
    })
    expect(put.status).toBe(200)
    const stale = await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'agent.memory.note',
        rkey,
        record: note('again'),
        swapRecord: created.body.cid,
      },
    })
    expect(stale.status).toBe(400)
    expect(stale.body.error).toBe('InvalidSwap')

    const del = await xrpc('com.atproto.repo.deleteRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', rkey },
    })
    expect(del.status).toBe(200)
    const gone = await xrpc('com.atproto.repo.getRecord', {
      params: { repo: a.did, collection: 'agent.memory.note', rkey },
    })
    expect(gone.status).toBe(400)
    expect(gone.body.error).toBe('RecordNotFound')
  })

  it('pages through a whole collection with listRecords, in both orders', async () => {
    const a = await createAgent()
    const clock = new TidClock()
    const writes = Array.from({ length: 30 }, (_, i) => ({
      $type: 'com.atproto.repo.applyWrites#create',
      collection: 'agent.memory.note',
      rkey: clock.next(),
      value: note(`n${i}`),
    }))
    const applied = await xrpc('com.atproto.repo.applyWrites', {
      token: a.accessJwt,
      body: { repo: a.did, writes },
    })
    expect(applied.status).toBe(200)
    for (const reverse of ['false', 'true']) {
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await xrpc('com.atproto.repo.listRecords', {
          params: {
            repo: a.did,
            collection: 'agent.memory.note',
            limit: '7',
            reverse,
            ...(cursor ? { cursor } : {}),
          },
        })
        expect(page.status).toBe(200)
        seen.push(...page.body.records.map((r: { uri: string }) => r.uri.split('/').at(-1)))
        cursor = page.body.cursor
      } while (cursor)
      const sorted = [...seen].sort()
      expect(seen).toEqual(reverse === 'true' ? sorted : sorted.reverse())
      expect(new Set(seen).size).toBe(30)
    }
  })

  it('exports a CAR that verifies, with every record in it', async () => {
    const a = await createAgent()
    for (let i = 0; i < 5; i++)
      await xrpc('com.atproto.repo.createRecord', {
        token: a.accessJwt,
        body: { repo: a.did, collection: 'agent.memory.note', record: note(`r${i}`) },
      })
    const doc = await xrpc('com.atproto.identity.resolveDid', { params: { did: a.did } })
    const key = `did:key:${doc.body.didDoc.verificationMethod[0].publicKeyMultibase}`
    const car = await xrpc('com.atproto.sync.getRepo', { params: { did: a.did } })
    expect(car.headers.get('content-type')).toBe('application/vnd.ipld.car')
    const verified = await verifyRepoCar(car.bytes!, a.did, key)
    expect(verified.records).toHaveLength(5)
    const head = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })
    expect(cidToString(parseCar(car.bytes!).roots[0]!)).toBe(head.body.cid)
  })
})

describe('auth rules', () => {
  it('never lets agent A write to agent B', async () => {
    const a = await createAgent()
    const b = await createAgent()
    const before = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: b.did } })
    const res = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: b.did, collection: 'agent.memory.note', record: note('intrusion') },
    })
    expect(res.status).toBe(403)
    expect(res.body.error).toBe('AuthRequired')
    const after = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: b.did } })
    expect(after.body).toEqual(before.body)
  })

  it('requires auth for writes', async () => {
    const a = await createAgent()
    const res = await xrpc('com.atproto.repo.createRecord', {
      body: { repo: a.did, collection: 'agent.memory.note', record: note('anon') },
    })
    expect(res.status).toBe(401)
  })
})
