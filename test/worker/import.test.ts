import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { cidToString } from '../../src/atproto/cid.ts'
import { verifyRepoCar } from '../../src/atproto/repo/index.ts'
import { BASE, createAgent, xrpc } from './helpers.ts'

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

async function importCar(token: string, car: Uint8Array) {
  const res = await SELF.fetch(`${BASE}/xrpc/com.atproto.repo.importRepo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.ipld.car' },
    body: car,
  })
  return { status: res.status, body: (await res.json()) as any }
}

async function exportRepo(did: string) {
  const car = (await xrpc('com.atproto.sync.getRepo', { params: { did } })).bytes!
  return { car, repo: await verifyRepoCar(car) }
}

describe('moving agents with importRepo', () => {
  it('export → import into a fresh agent → export gives the same records and data CID', async () => {
    const a = await createAgent()
    for (let i = 0; i < 12; i++)
      await xrpc('com.atproto.repo.createRecord', {
        token: a.accessJwt,
        body: { repo: a.did, collection: 'agent.memory.note', record: note(`memory ${i}`) },
      })
    await xrpc('com.atproto.repo.putRecord', {
      token: a.accessJwt,
      body: {
        repo: a.did,
        collection: 'com.example.thing',
        rkey: 'self',
        record: { $type: 'com.example.thing', n: 1 },
      },
    })
    const first = await exportRepo(a.did)

    const b = await createAgent()
    // b already has a record that the import must replace.
    await xrpc('com.atproto.repo.createRecord', {
      token: b.accessJwt,
      body: { repo: b.did, collection: 'agent.memory.note', record: note('old life') },
    })
    const imported = await importCar(b.accessJwt, first.car)
    expect(imported.status).toBe(200)

    const second = await exportRepo(b.did)
    expect(second.repo.did).toBe(b.did)
    expect(cidToString(second.repo.data)).toBe(cidToString(first.repo.data))
    const records = (r: typeof first.repo) =>
      r.records.map((x) => `${x.collection}/${x.rkey}@${cidToString(x.cid)}`).sort()
    expect(records(second.repo)).toEqual(records(first.repo))

    // Importing the same CAR again changes nothing.
    expect((await importCar(b.accessJwt, first.car)).body).toEqual({})
  })

  it('refuses a malformed CAR and changes nothing', async () => {
    const a = await createAgent()
    const before = await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })
    const res = await importCar(a.accessJwt, new Uint8Array([1, 2, 3, 4, 5]))
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('InvalidRequest')
    expect((await xrpc('com.atproto.sync.getLatestCommit', { params: { did: a.did } })).body).toEqual(
      before.body,
    )
  })
})
