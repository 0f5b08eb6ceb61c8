/**
 * The house rule, part 1: malformed bodies, mistyped fields, bad identifiers and
 * invalid records get a clear 4xx XRPC error and lose nothing.
 * Every case checks the status, the `{error, message}` body (no stack trace),
 * and that the repo's head commit did not move. (The cases are split over
 * several files because SELF.fetch slows down with every request a workerd
 * instance has served: cloudflare/workers-sdk#15446.)
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { xrpc } from './helpers.ts'
import {
  type Agent,
  expectFailure,
  fixture,
  NOTE,
  note,
  post,
  records,
  refused,
  UNKNOWN_DID,
} from './refusals.ts'

vi.setConfig({ testTimeout: 60_000 })

let a: Agent
let b: Agent
let noteRkey: string
let notesBefore: string[]

beforeAll(async () => {
  ;({ a, b, noteRkey } = await fixture())
  notesBefore = await records(a.did)
})

afterAll(async () => {
  // Nothing refused above left a note behind or changed the one there is.
  expect(await records(a.did)).toEqual(notesBefore)
})

const create = (body: unknown, token = a.accessJwt) => xrpc('com.atproto.repo.createRecord', { token, body })

describe('malformed bodies', () => {
  it('refuses malformed JSON', async () => {
    for (const raw of ['{"repo":', '{repo: 1}', 'not json at all', '{"a":1}}', '\u0000\u0001']) {
      await refused(
        a.did,
        () => xrpc('com.atproto.repo.createRecord', { token: a.accessJwt, raw, type: 'application/json' }),
        400,
        'InvalidRequest',
      )
    }
  })

  it('refuses a wrong content type', async () => {
    const body = JSON.stringify({ repo: a.did, collection: NOTE, record: note('typed wrong') })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/cbor']) {
      await refused(
        a.did,
        () => xrpc('com.atproto.repo.createRecord', { token: a.accessJwt, raw: body, type }),
        400,
        'InvalidRequest',
      )
    }
    await refused(
      a.did,
      () =>
        post('com.atproto.repo.createRecord', body, {
          authorization: `Bearer ${a.accessJwt}`,
        }),
      400,
    )
  })

  it('refuses an empty body', async () => {
    for (const method of ['createRecord', 'putRecord', 'deleteRecord', 'applyWrites']) {
      await refused(
        a.did,
        () => xrpc(`com.atproto.repo.${method}`, { token: a.accessJwt, raw: '', type: 'application/json' }),
        400,
      )
    }
  })

  it('refuses JSON that is not an object', async () => {
    for (const value of [[], [{ repo: a.did }], 'a string', 42, null, true]) {
      await refused(
        a.did,
        () =>
          xrpc('com.atproto.repo.createRecord', {
            token: a.accessJwt,
            raw: JSON.stringify(value),
            type: 'application/json',
          }),
        400,
        'InvalidRequest',
      )
    }
  })

  it('refuses a malformed CAR on importRepo', async () => {
    const garbage = new Uint8Array([0xa2, 0x65, 0x72, 0x6f, 0x6f, 0x74, 0x73, 0xff, 0x00, 0x01, 0x02])
    for (const body of [new Uint8Array([1, 2, 3]), garbage, new Uint8Array(0)]) {
      await refused(a.did, () =>
        post('com.atproto.repo.importRepo', body, {
          authorization: `Bearer ${a.accessJwt}`,
          'content-type': 'application/vnd.ipld.car',
        }),
      )
    }
    // A real CAR cut short.
    const car = (await xrpc('com.atproto.sync.getRepo', { params: { did: a.did } })).bytes!
    await refused(a.did, () =>
      post('com.atproto.repo.importRepo', car.slice(0, Math.floor(car.length / 2)), {
        authorization: `Bearer ${a.accessJwt}`,
        'content-type': 'application/vnd.ipld.car',
      }),
    )
  })
})

describe('missing and mistyped fields', () => {
  it('refuses a missing collection, record or repo', async () => {
    await refused(a.did, () => create({ repo: a.did, record: note('x') }), 400, 'InvalidRequest')
    await refused(a.did, () => create({ repo: a.did, collection: NOTE }), 400, 'InvalidRequest')
    await refused(a.did, () => create({ collection: NOTE, record: note('x') }), 400, 'InvalidRequest')
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.putRecord', {
          token: a.accessJwt,
          body: { repo: a.did, collection: NOTE, record: note('x') },
        }),
      400,
    )
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.deleteRecord', {
          token: a.accessJwt,
          body: { repo: a.did, collection: NOTE },
        }),
      400,
    )
    await refused(
      a.did,
      () => xrpc('com.atproto.repo.applyWrites', { token: a.accessJwt, body: { repo: a.did } }),
      400,
    )
  })

  it('refuses fields of the wrong type', async () => {
    const base = { repo: a.did, collection: NOTE, record: note('typed') }
    for (const bad of [
      { collection: 123 },
      { collection: null },
      { record: 'str' },
      { record: [note('in an array')] },
      { record: null },
      { rkey: 5 },
      { validate: 'yes' },
      { swapCommit: 7 },
      { repo: 42 },
      { repo: { did: a.did } },
    ]) {
      await refused(a.did, () => create({ ...base, ...bad }), 400, 'InvalidRequest')
    }
    for (const swapRecord of [7, true, {}]) {
      await refused(
        a.did,
        () =>
          xrpc('com.atproto.repo.putRecord', {
            token: a.accessJwt,
            body: { ...base, rkey: noteRkey, swapRecord },
          }),
        400,
        'InvalidRequest',
      )
      await refused(
        a.did,
        () =>
          xrpc('com.atproto.repo.deleteRecord', {
            token: a.accessJwt,
            body: { repo: a.did, collection: NOTE, rkey: noteRkey, swapRecord },
          }),
        400,
        'InvalidRequest',
      )
    }
    for (const writes of ['str', { 0: 'x' }, [null], ['str'], [{ $type: 'nope', collection: NOTE }]]) {
      await refused(
        a.did,
        () => xrpc('com.atproto.repo.applyWrites', { token: a.accessJwt, body: { repo: a.did, writes } }),
        400,
        'InvalidRequest',
      )
    }
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.applyWrites', {
          token: a.accessJwt,
          body: {
            repo: a.did,
            writes: [{ $type: 'com.atproto.repo.applyWrites#create', collection: NOTE, value: 'str' }],
          },
        }),
      400,
      'InvalidRequest',
    )
  })
})

describe('bad identifiers', () => {
  it('refuses an invalid collection NSID', async () => {
    for (const collection of [
      'not an nsid',
      'nodots',
      'agent..note',
      '',
      'a.b.c/d',
      `a.b.${'c'.repeat(400)}`,
    ]) {
      await refused(a.did, () => create({ repo: a.did, collection, record: { text: 'x' } }), 400)
    }
  })

  it('refuses an invalid rkey', async () => {
    for (const rkey of ['..', '.', 'a/b', 'a b', 'x'.repeat(513), '']) {
      await refused(
        a.did,
        () =>
          xrpc('com.atproto.repo.putRecord', {
            token: a.accessJwt,
            body: { repo: a.did, collection: 'com.example.thing', rkey, record: { n: 1 }, validate: false },
          }),
        400,
      )
    }
    // A note's key must be a TID.
    await refused(
      a.did,
      () => create({ repo: a.did, collection: NOTE, rkey: 'self', record: note('x') }),
      400,
    )
  })

  it('refuses an invalid handle or DID as repo, for writes and reads', async () => {
    for (const repo of ['bad_handle!', 'did:bad', 'did:cf:', 'DID:cf:abc', 'not a repo', 'a..b']) {
      await refused(a.did, () => create({ repo, collection: NOTE, record: note('x') }), 400)
      expectFailure(
        await xrpc('com.atproto.repo.getRecord', { params: { repo, collection: NOTE, rkey: noteRkey } }),
        400,
      )
      expectFailure(await xrpc('com.atproto.repo.listRecords', { params: { repo, collection: NOTE } }), 400)
      expectFailure(await xrpc('com.atproto.repo.describeRepo', { params: { repo } }), 400)
      expectFailure(await xrpc('com.atproto.sync.getRepo', { params: { did: repo } }), 400)
      expectFailure(await xrpc('com.atproto.sync.getLatestCommit', { params: { did: repo } }), 400)
    }
    expectFailure(await xrpc('com.atproto.sync.getRepo'), 400)
    expectFailure(
      await xrpc('com.atproto.repo.getRecord', { params: { collection: NOTE, rkey: noteRkey } }),
      400,
    )
  })

  it('refuses an unknown repo (a well-formed DID or handle that is not registered)', async () => {
    for (const repo of [UNKNOWN_DID, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'nobody-here.agents.test']) {
      await refused(a.did, () => create({ repo, collection: NOTE, record: note('x') }), 400, 'RepoNotFound')
      expectFailure(
        await xrpc('com.atproto.repo.getRecord', { params: { repo, collection: NOTE, rkey: noteRkey } }),
        400,
        'RepoNotFound',
      )
      expectFailure(
        await xrpc('com.atproto.repo.listRecords', { params: { repo, collection: NOTE } }),
        400,
        'RepoNotFound',
      )
      expectFailure(await xrpc('com.atproto.sync.getRepo', { params: { did: repo } }), 400, 'RepoNotFound')
      expectFailure(
        await xrpc('com.atproto.sync.getLatestCommit', { params: { did: repo } }),
        400,
        'RepoNotFound',
      )
    }
  })

  it('refuses invalid handles in createAccount, and creates nothing', async () => {
    const admin = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' }
    const cases: [unknown, string?][] = [
      ['bad_handle!', 'InvalidHandle'],
      ['someone.example.com', 'InvalidHandle'],
      ['agents.test', 'InvalidHandle'],
      ['-dash.agents.test', 'InvalidHandle'],
      [`${'x'.repeat(300)}`, 'InvalidHandle'],
      [5],
      [null],
    ]
    for (const [handle, error] of cases) {
      const res = await post(
        'com.atproto.server.createAccount',
        JSON.stringify({ handle, password: 'correct horse battery' }),
        admin,
      )
      expectFailure(res, 400, error)
      if (typeof handle === 'string') {
        const full = handle.includes('.') ? handle : `${handle}.agents.test`
        const resolved = await xrpc('com.atproto.identity.resolveHandle', { params: { handle: full } })
        expectFailure(resolved, 400)
      }
    }
    // A too-short password creates nothing either.
    const name = `shortpw${Date.now().toString(36)}`
    expectFailure(
      await post(
        'com.atproto.server.createAccount',
        JSON.stringify({ handle: name, password: 'short' }),
        admin,
      ),
      400,
    )
    expectFailure(
      await xrpc('com.atproto.identity.resolveHandle', { params: { handle: `${name}.agents.test` } }),
      400,
      'HandleNotFound',
    )
  })
})

describe('invalid records', () => {
  it('refuses notes that fail their lexicon', async () => {
    const { text: _drop, ...noText } = note('x')
    for (const record of [
      noText,
      note('x', { importance: 9 }),
      note('x', { importance: 0 }),
      note('x', { importance: '3' }),
      note(42),
      note(['a']),
      note('x', { createdAt: 'yesterday' }),
      note('x', { tags: 'not-an-array' }),
    ]) {
      await refused(a.did, () => create({ repo: a.did, collection: NOTE, record }), 400)
      // validate:false does not switch off validation for agent.* collections.
      await refused(a.did, () => create({ repo: a.did, collection: NOTE, record, validate: false }), 400)
    }
  })

  it('refuses a record in an unknown agent.* collection', async () => {
    for (const validate of [undefined, false, true]) {
      await refused(
        a.did,
        () => create({ repo: a.did, collection: 'agent.unknown.thing', record: { text: 'x' }, validate }),
        400,
      )
    }
    // validate:true needs a known lexicon for any collection.
    await refused(
      a.did,
      () => create({ repo: a.did, collection: 'com.example.thing', record: { n: 1 }, validate: true }),
      400,
    )
  })

  it('refuses floats anywhere in a record', async () => {
    for (const [collection, record] of [
      ['com.example.thing', { n: 1.5 }],
      ['com.example.thing', { deep: { list: [1, 2, 0.1] } }],
      [NOTE, note('x', { importance: 2.5 })],
      [NOTE, note('x', { extra: 3.14 })],
    ] as const) {
      await refused(a.did, () => create({ repo: a.did, collection, record }), 400)
      await refused(a.did, () => create({ repo: a.did, collection, record, validate: false }), 400)
    }
  })

  it('refuses malformed $link, $bytes and blob values', async () => {
    for (const record of [
      { l: { $link: 'not a cid' } },
      { l: { $link: 'bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm', extra: 1 } },
      { b: { $bytes: '!!!not base64' } },
      { blob: { $type: 'blob', ref: { $link: 'nope' }, mimeType: 'image/png', size: 1 } },
      { blob: { $type: 'blob', mimeType: 'image/png', size: -1 } },
    ]) {
      await refused(
        a.did,
        () => create({ repo: a.did, collection: 'com.example.thing', record, validate: false }),
        400,
      )
    }
  })

  it('refuses a record whose $type does not match the collection', async () => {
    for (const $type of ['agent.memory.other', 'com.example.thing', 42, null]) {
      await refused(
        a.did,
        () => create({ repo: a.did, collection: NOTE, record: { ...note('x'), $type } }),
        400,
      )
    }
  })

  it('refuses a record over 1 MB', async () => {
    const big = 'x'.repeat(1_100_000)
    await refused(
      a.did,
      () => create({ repo: a.did, collection: 'com.example.thing', record: { big }, validate: false }),
      [400, 413],
    )
    await refused(a.did, () => create({ repo: a.did, collection: NOTE, record: note(big) }), [400, 413])
    // applyWrites takes bigger bodies (many records), but no one record over 1 MB.
    const write = (value: unknown) => ({
      $type: 'com.atproto.repo.applyWrites#create',
      collection: 'com.example.thing',
      value,
    })
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.applyWrites', {
          token: a.accessJwt,
          body: { repo: a.did, validate: false, writes: [write({ n: 1 }), write({ big })] },
        }),
      [400, 413],
    )
  })

  it('refuses a blob over the limit, and keeps a good one', async () => {
    const blobs = async () => (await xrpc('com.atproto.sync.listBlobs', { params: { did: a.did } })).body.cids
    const blobsBefore = await blobs()
    const tooBig = new Uint8Array(10 * 1024 * 1024 + 1)
    await refused(
      a.did,
      () => xrpc('com.atproto.repo.uploadBlob', { raw: tooBig, type: 'image/png', token: a.accessJwt }),
      413,
    )
    await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.uploadBlob', {
          raw: new Uint8Array(0),
          type: 'image/png',
          token: a.accessJwt,
        }),
      400,
    )
    expect(await blobs()).toEqual(blobsBefore)
    const ok = await xrpc('com.atproto.repo.uploadBlob', {
      raw: new Uint8Array([1, 2, 3]),
      type: 'image/png',
      token: b.accessJwt,
    })
    expect(ok.status).toBe(200)
  })
})
