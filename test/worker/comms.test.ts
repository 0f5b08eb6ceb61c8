/**
 * agent.comms records through the real write path: valid ones of every type are stored as
 * written; invalid ones are refused with a 400 naming the collection and the path, and leave the
 * repo exactly as it was (the head does not move, no record appears).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest'
import {
  blob,
  blobRef,
  broadcast,
  DID_A,
  handoff,
  json,
  MAX_TEXT,
  message,
  type Rec,
  ref,
  request,
  response,
  strongRefs,
  text,
  typedData,
  without,
} from '../comms-records.ts'
import { createAgent, xrpc } from './helpers.ts'
import { type Agent, records, refused } from './refusals.ts'

vi.setConfig({ testTimeout: 60_000 })

const COLLECTIONS = ['message', 'broadcast', 'request', 'response', 'handoff'].map((n) => `agent.comms.${n}`)

let a: Agent
let b: Agent

beforeAll(async () => {
  a = await createAgent()
  b = await createAgent()
})

const create = (record: Rec, extra: Rec = {}, by = a) =>
  xrpc('com.atproto.repo.createRecord', {
    token: by.accessJwt,
    body: { repo: by.did, collection: record.$type, record, ...extra },
  })

/** Write `record` to `by`'s repo, check it reads back exactly as written, and return its strong ref. */
async function stored(record: Rec, by = a): Promise<{ uri: string; cid: string }> {
  const res = await create(record, {}, by)
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  expect(res.body.validationStatus).toBe('valid')
  const { uri, cid } = res.body as { uri: string; cid: string }
  const [, , repo, collection, rkey] = uri.split('/') as [string, string, string, string, string]
  expect([repo, collection]).toEqual([by.did, record.$type])
  expect(rkey).toMatch(/^[234567a-z]{13}$/)
  const got = await xrpc('com.atproto.repo.getRecord', { params: { repo, collection, rkey } })
  expect(got.status).toBe(200)
  expect(got.body).toMatchObject({ uri, cid })
  expect(got.body.value).toEqual(record)
  return { uri, cid }
}

describe('valid agent.comms records', () => {
  it('stores one of each type, with every content kind, exactly as written', async () => {
    const upload = await xrpc('com.atproto.repo.uploadBlob', {
      raw: new TextEncoder().encode('a,b\n1,2\n'),
      type: 'text/csv',
      token: a.accessJwt,
    })
    expect(upload.status).toBe(200)

    const req = await stored(request({ assignee: b.did, params: typedData(), priority: 4 }, a.did))
    await stored(message({ recipient: b.did, content: text('x'.repeat(MAX_TEXT)) }, a.did))
    await stored(
      message({ recipient: b.did, content: json({ ok: true, n: [1, 2] }), context: strongRefs(50) }, a.did),
    )
    await stored(message({ recipient: b.did, content: ref(req.uri, req.cid), inReplyTo: req }, a.did))
    await stored(message({ recipient: b.did, content: blob(upload.body.blob) }, a.did))
    await stored(broadcast({ audience: [b.did, 'ops'], severity: 'warning', ttlSeconds: 604_800 }, a.did))
    await stored(handoff({ recipient: b.did, task: req, context: strongRefs(100) }, a.did))
    // The worker answers from its own repo, citing the request in the requester's.
    await stored(response({ request: req, state: 'working' }, b.did), b)
    await stored(response({ request: req, state: 'completed', result: text('done') }, b.did), b)

    for (const collection of COLLECTIONS) {
      const repo = collection === 'agent.comms.response' ? b.did : a.did
      expect((await records(repo, collection)).length, collection).toBeGreaterThan(0)
    }
  })
})

describe('invalid agent.comms records', () => {
  // [what is wrong, the record (written by `did`), the path and problem the message must name]
  const invalid: [string, (did: string) => Rec, RegExp][] = [
    [
      'oversized text',
      (did) => message({ content: text('x'.repeat(MAX_TEXT + 1)) }, did),
      /record\/content\/text must not be longer than 10000 graphemes$/,
    ],
    [
      '101 audience entries',
      (did) => broadcast({ audience: Array.from({ length: 101 }, (_, i) => `topic-${i}`) }, did),
      /record\/audience must not have more than 100 elements$/,
    ],
    [
      'a priority as a string',
      (did) => message({ priority: '3' }, did),
      /record\/priority must be an integer$/,
    ],
    ['a sender that is not a DID', () => message({}, 'alice'), /record\/sender must be a valid did$/],
    ['a sender other than the repo', () => message({}, DID_A), /sender must be the repo's DID/],
    ['a number for a DID', (did) => message({ recipient: 42 }, did), /record\/recipient must be a string$/],
    [
      'content as a string',
      (did) => message({ content: 'hi' }, did),
      /record\/content must be an object which includes/,
    ],
    [
      'an unknown content kind',
      (did) => message({ content: { $type: 'x.y.z', kind: 'z' } }, did),
      /record\/content\/\$type must be one of/,
    ],
    [
      'a 513-character task',
      (did) => request({ task: 'x'.repeat(513) }, did),
      /record\/task must not be longer than 512 graphemes$/,
    ],
    ['a state that is a number', (did) => response({ state: 7 }, did), /record\/state must be a string$/],
    [
      '51 context refs on a message',
      (did) => message({ context: strongRefs(51) }, did),
      /record\/context must not have more than 50 elements$/,
    ],
    [
      '101 context refs on a handoff',
      (did) => handoff({ context: strongRefs(101) }, did),
      /record\/context must not have more than 100 elements$/,
    ],
    [
      'a handoff without a summary',
      (did) => without(handoff({}, did), 'summary'),
      /record must have the property "summary"$/,
    ],
    [
      'a blob over 10 MB',
      (did) => message({ content: blob(blobRef(10_000_001)) }, did),
      /record\/content\/blob must not be larger than 10000000 bytes$/,
    ],
  ]

  it.each(invalid)('refuses %s with InvalidRequest and writes nothing', async (_, build, why) => {
    const record = build(a.did)
    const collection = record.$type as string
    const before = await records(a.did, collection)
    const res = await refused(a.did, () => create(record), 400, 'InvalidRequest')
    expect(res.body.message).toMatch(new RegExp(`^Invalid ${collection.replace(/\./g, '\\.')} record: `))
    expect(res.body.message).toMatch(why)
    expect(await records(a.did, collection)).toEqual(before)
  })

  it('cannot be switched off with validate: false', async () => {
    const record = message({ content: text('x'.repeat(MAX_TEXT + 1)) }, a.did)
    await refused(a.did, () => create(record, { validate: false }), 400, 'InvalidRequest')
  })

  it('refuses a record key that is not a TID', async () => {
    const res = await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.putRecord', {
          token: a.accessJwt,
          body: { repo: a.did, collection: 'agent.comms.message', rkey: 'self', record: message({}, a.did) },
        }),
      400,
      'InvalidRequest',
    )
    expect(res.body.message).toMatch(/rkey "self" does not match record key type "tid"/)
  })

  it('refuses a whole applyWrites batch when one record in it is invalid', async () => {
    const before = await records(a.did, 'agent.comms.message')
    const write = (record: Rec) => ({
      $type: 'com.atproto.repo.applyWrites#create',
      collection: record.$type,
      value: record,
    })
    const res = await refused(
      a.did,
      () =>
        xrpc('com.atproto.repo.applyWrites', {
          token: a.accessJwt,
          body: {
            repo: a.did,
            writes: [write(message({}, a.did)), write(broadcast({ ttlSeconds: 604_801 }, a.did))],
          },
        }),
      400,
      'InvalidRequest',
    )
    expect(res.body.message).toMatch(/^Invalid agent\.comms\.broadcast record: record\/ttlSeconds/)
    expect(await records(a.did, 'agent.comms.message')).toEqual(before)
  })
})
