/**
 * The house rule, part 2: stale swaps, bad credentials, bad batches and bad
 * query parameters get a clear 4xx XRPC error and lose nothing.
 * Every case checks the status, the `{error, message}` body (no stack trace),
 * and that the repo's head commit did not move. (The cases are split over
 * several files because SELF.fetch slows down with every request a workerd
 * instance has served: cloudflare/workers-sdk#15446.)
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { tokenKey } from '../../src/auth/secret.ts'
import { ADMIN, xrpc } from './helpers.ts'
import {
  type Agent,
  claimsOf,
  expectFailure,
  fixture,
  head,
  NOTE,
  note,
  post,
  records,
  refused,
  TEST_SECRET,
} from './refusals.ts'

vi.setConfig({ testTimeout: 60_000 })

let a: Agent
let b: Agent
let noteRkey: string
let noteCid: string
let notesBefore: string[]

beforeAll(async () => {
  ;({ a, b, noteRkey, noteCid } = await fixture())
  notesBefore = await records(a.did)
})

afterAll(async () => {
  // Nothing refused above left a note behind or changed the one there is.
  expect(await records(a.did)).toEqual(notesBefore)
})

const create = (body: unknown, token = a.accessJwt) => xrpc('com.atproto.repo.createRecord', { token, body })

describe('swaps', () => {
  it('refuses a stale swapCommit on createRecord and applyWrites', async () => {
    const head = (await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })).body
    const moved = await create({ repo: a.did, collection: 'com.example.swap', record: { n: 1 } })
    expect(moved.status).toBe(200)
    const stale = head.cid
    await refused(
      a.did,
      () => create({ repo: a.did, collection: NOTE, record: note('late'), swapCommit: stale }),
      400,
      'InvalidSwap',
    )
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.applyWrites', {
          token: a.accessJwt,
          body: {
            repo: a.did,
            swapCommit: stale,
            writes: [{ $type: 'com.atproto.repo.applyWrites#create', collection: NOTE, value: note('late') }],
          },
        }),
      400,
      'InvalidSwap',
    )
    await refused(
      a.did,
      () => create({ repo: a.did, collection: NOTE, record: note('late'), swapCommit: 'not-a-cid' }),
      400,
    )
  })

  it('refuses a swapRecord mismatch', async () => {
    const wrong = 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm'
    for (const swapRecord of [wrong, null]) {
      await refused(
        a.did,
        () =>
          xrpc('com.atproto.repo.putRecord', {
            token: a.accessJwt,
            body: { repo: a.did, collection: NOTE, rkey: noteRkey, record: note('swapped'), swapRecord },
          }),
        400,
        'InvalidSwap',
      )
    }
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.deleteRecord', {
          token: a.accessJwt,
          body: { repo: a.did, collection: NOTE, rkey: noteRkey, swapRecord: wrong },
        }),
      400,
      'InvalidSwap',
    )
    const got = await xrpc('com.atproto.repo.getRecord', {
      params: { repo: a.did, collection: NOTE, rkey: noteRkey },
    })
    expect(got.body.cid).toBe(noteCid)
  })
})

describe('auth', () => {
  const attempt = (token: string) =>
    create({ repo: a.did, collection: NOTE, record: note('intruder') }, token)

  it('refuses an expired token', async () => {
    const key = await tokenKey(TEST_SECRET)
    const now = Math.floor(Date.now() / 1000)
    const expired = await signToken(key, { ...claimsOf(a.accessJwt), iat: now - 7200, exp: now - 60 })
    await refused(a.did, () => attempt(expired), [400, 401], 'ExpiredToken')
    expectFailure(await xrpc('com.atproto.server.getSession', { token: expired }), [400, 401], 'ExpiredToken')
    // The same claims, unexpired, are accepted: the expiry is what failed.
    const fresh = await signToken(key, { ...claimsOf(a.accessJwt), exp: now + 600 })
    expect((await xrpc('com.atproto.server.getSession', { token: fresh })).status).toBe(200)
  })

  it('refuses a forged token', async () => {
    const [h, p, s] = a.accessJwt.split('.')
    const flipped = (s![0] === 'A' ? 'B' : 'A') + s!.slice(1)
    const otherKey = await tokenKey('some-other-network-secret-0123456789abcdef')
    const claims = claimsOf(a.accessJwt)
    const forged = [
      `${h}.${p}.${flipped}`,
      `${h}.${p}.${'A'.repeat(43)}`,
      `${h}.${p}.`,
      `${h}.${btoa(JSON.stringify({ ...claims, sub: b.did })).replace(/=+$/, '')}.${s}`,
      await signToken(otherKey, claims),
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
      'nonsense',
      'a.b.c',
    ]
    for (const token of forged) await refused(a.did, () => attempt(token), 401)
  })

  it("refuses agent A's token on agent B's repo", async () => {
    const before = await head(b.did)
    const res = await create({ repo: b.did, collection: NOTE, record: note('intrusion') }, a.accessJwt)
    expectFailure(res, 403, 'AuthRequired')
    const made = await create({ repo: b.did, collection: NOTE, record: note('mine') }, b.accessJwt)
    expect(made.status).toBe(200)
    const rkey = made.body.uri.split('/').at(-1)
    const mid = { head: await head(b.did), notes: await records(b.did) }
    for (const [method, body] of [
      ['deleteRecord', { repo: b.did, collection: NOTE, rkey }],
      ['putRecord', { repo: b.did, collection: NOTE, rkey, record: note('overwritten') }],
      [
        'applyWrites',
        { repo: b.did, writes: [{ $type: 'com.atproto.repo.applyWrites#delete', collection: NOTE, rkey }] },
      ],
    ] as const) {
      await refused(b.did, () => xrpc(`com.atproto.repo.${method}`, { token: a.accessJwt, body }), 403)
    }
    expect({ head: await head(b.did), notes: await records(b.did) }).toEqual(mid)
    expect(mid.head).not.toEqual(before)
    expect(mid.notes).toHaveLength(1)
  })

  it('refuses a refresh token used as an access token', async () => {
    await refused(a.did, () => attempt(a.refreshJwt), 401)
    await refused(a.did, () =>
      xrpc('com.atproto.repo.uploadBlob', {
        raw: new Uint8Array([1]),
        type: 'image/png',
        token: a.refreshJwt,
      }),
    )
    // ...and an access token where a refresh token is needed.
    expectFailure(await xrpc('com.atproto.server.refreshSession', { token: a.accessJwt, type: 'none' }))
  })

  it('refuses a malformed Authorization header', async () => {
    const body = JSON.stringify({ repo: a.did, collection: NOTE, record: note('x') })
    for (const authorization of [
      `Basic ${btoa('user:pass')}`,
      'Bearer',
      'Bearer ',
      a.accessJwt,
      `Token ${a.accessJwt}`,
      `Bearer ${a.accessJwt} extra`,
      `Bearer  ${a.accessJwt}x`,
    ]) {
      await refused(
        a.did,
        () =>
          post('com.atproto.repo.createRecord', body, { authorization, 'content-type': 'application/json' }),
        401,
      )
    }
    // No credentials at all.
    await refused(a.did, () => create({ repo: a.did, collection: NOTE, record: note('x') }, ''), 401)
  })
})

describe('applyWrites batches', () => {
  const createWrite = (value: unknown, extra: Record<string, unknown> = {}) => ({
    $type: 'com.atproto.repo.applyWrites#create',
    collection: NOTE,
    value,
    ...extra,
  })
  const apply = (writes: unknown[], extra: Record<string, unknown> = {}) =>
    xrpc('com.atproto.repo.applyWrites', { token: a.accessJwt, body: { repo: a.did, writes, ...extra } })

  it('refuses 201 writes and an empty batch', async () => {
    const writes = Array.from({ length: 201 }, (_, i) => createWrite(note(`n${i}`)))
    await refused(a.did, () => apply(writes), 400, 'InvalidRequest')
    await refused(a.did, () => apply([]), 400)
  })

  it('writes nothing when the 2nd of 3 writes is invalid', async () => {
    const missing = { $type: 'com.atproto.repo.applyWrites#delete', collection: NOTE, rkey: '3zzzzzzzzzzzz' }
    for (const second of [
      createWrite({ $type: NOTE, createdAt: new Date().toISOString() }),
      createWrite(note('x', { importance: 9 })),
      createWrite(note('x'), { collection: 'not an nsid' }),
      createWrite(note('x'), { rkey: 'a/b' }),
      createWrite({ n: 1.5 }, { collection: 'com.example.thing' }),
      createWrite({ l: { $link: 'nope' } }, { collection: 'com.example.thing' }),
      createWrite(note('x'), { rkey: noteRkey }),
      missing,
      { $type: 'com.atproto.repo.applyWrites#update', collection: NOTE, value: note('no rkey') },
      { $type: 'com.atproto.repo.applyWrites#bogus', collection: NOTE, value: note('x') },
    ]) {
      await refused(a.did, () => apply([createWrite(note('first')), second, createWrite(note('third'))]), 400)
    }
  })

  it('writes nothing when two writes in a batch touch the same record', async () => {
    const rkey = '3kabcdefghijk'
    await refused(
      a.did,
      () => apply([createWrite(note('one'), { rkey }), createWrite(note('two'), { rkey })]),
      400,
    )
  })
})

describe('bad query parameters', () => {
  it('refuses bad listRecords parameters', async () => {
    const list = (params: Record<string, string>) =>
      xrpc('com.atproto.repo.listRecords', { params: { repo: a.did, collection: NOTE, ...params } })
    for (const limit of ['0', '101', 'abc', '-1', '1.5']) expectFailure(await list({ limit }), 400)
    for (const reverse of ['maybe', '1', 'yes']) expectFailure(await list({ reverse }), 400)
    for (const cursor of ['!!!', 'a/b', '..', 'x'.repeat(600)]) expectFailure(await list({ cursor }), 400)
    expectFailure(await list({ collection: 'not an nsid' }), 400)
    // The good parameters still work.
    const ok = await list({ limit: '100', reverse: 'true' })
    expect(ok.status).toBe(200)
    expect(ok.body.records.length).toBeGreaterThan(0)
  })

  it('refuses malformed cids on getBlocks and getBlob', async () => {
    for (const cid of ['notacid', 'bafy', '', 'Qm123', 'zzzzzzzzzzzzzzzzzzzzzzzzzz']) {
      expectFailure(await xrpc('com.atproto.sync.getBlocks', { params: { did: a.did, cids: [cid] } }), 400)
      expectFailure(await xrpc('com.atproto.sync.getBlob', { params: { did: a.did, cid } }), 400)
    }
    const head = (await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })).body
    expectFailure(
      await xrpc('com.atproto.sync.getBlocks', { params: { did: a.did, cids: [head.cid, 'notacid'] } }),
      400,
    )
    expectFailure(await xrpc('com.atproto.sync.getBlocks', { params: { did: a.did } }), 400)
    const good = await xrpc('com.atproto.sync.getBlocks', { params: { did: a.did, cids: [head.cid] } })
    expect(good.status).toBe(200)
  })

  it('refuses getRepo with a since that is not a TID', async () => {
    for (const since of ['notatid', '123', '3zzzzzzzzzzzzzzzzzzz'])
      expectFailure(await xrpc('com.atproto.sync.getRepo', { params: { did: a.did, since } }), 400)
  })

  it('refuses bad getRecord parameters', async () => {
    for (const params of [
      { collection: 'not an nsid', rkey: noteRkey } as Record<string, string>,
      { collection: NOTE, rkey: 'a/b' },
      { collection: NOTE, rkey: '' },
      { collection: NOTE },
    ])
      expectFailure(await xrpc('com.atproto.repo.getRecord', { params: { repo: a.did, ...params } }), 400)
  })

  it('refuses bad limits and cursors on listBlobs, listRepos and listAgents', async () => {
    const listAgents = (params: Record<string, string>) =>
      xrpc('agent.admin.listAgents', { params, token: ADMIN })
    for (const limit of ['0', 'abc', '100000', '-5']) {
      expectFailure(await xrpc('com.atproto.sync.listBlobs', { params: { did: a.did, limit } }), 400)
      expectFailure(await xrpc('com.atproto.sync.listRepos', { params: { limit } }), 400)
      expectFailure(await listAgents({ limit }), 400)
    }
    for (const cursor of ['not-a-did', '!!!', a.handle]) {
      expectFailure(await xrpc('com.atproto.sync.listRepos', { params: { cursor } }), 400)
      expectFailure(await listAgents({ cursor }), 400)
    }
    for (const cursor of ['!!!', 'a/b', 'x'.repeat(300)])
      expectFailure(await xrpc('com.atproto.sync.listBlobs', { params: { did: a.did, cursor } }), 400)
    // Good ones still work.
    expect((await xrpc('com.atproto.sync.listRepos', { params: { cursor: a.did, limit: '5' } })).status).toBe(
      200,
    )
    expect((await listAgents({ cursor: a.did, limit: '5' })).status).toBe(200)
    // The listings need the admin token.
    expectFailure(await xrpc('agent.admin.listAgents', { token: a.accessJwt }), 401)
    expectFailure(await xrpc('agent.admin.listAgents'), 401)
  })
})
