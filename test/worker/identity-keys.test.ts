import { env, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { parseCar } from '../../src/atproto/car.ts'
import { cidToString } from '../../src/atproto/cid.ts'
import { generateKeypair } from '../../src/atproto/keys.ts'
import { verifyAuditLog } from '../../src/identity/audit.ts'
import { ADMIN, createAgent, xrpc } from './helpers.ts'

const note = (text: string) => ({ $type: 'agent.memory.note', text, createdAt: new Date().toISOString() })

describe('identity and keys', () => {
  it("puts the operator's recovery key first among the rotation keys", async () => {
    const recovery = await generateKeypair('secp256k1')
    const res = await xrpc('com.atproto.server.createAccount', {
      token: ADMIN,
      body: {
        handle: `rec${Date.now().toString(36)}`,
        password: 'recovery-pass-1',
        recoveryKey: recovery.did,
      },
    })
    expect(res.status).toBe(200)
    const audit = await getJson(`/did/${res.body.did}/log/audit`)
    const op = await verifyAuditLog(res.body.did, audit)
    expect(op.rotationKeys[0]).toBe(recovery.did)
    expect(op.rotationKeys).toHaveLength(2)

    const bad = await xrpc('com.atproto.server.createAccount', {
      token: ADMIN,
      body: {
        handle: `rec2${Date.now().toString(36)}`,
        password: 'recovery-pass-1',
        recoveryKey: 'did:key:nope',
      },
    })
    expect(bad.status).toBe(400)
  })

  it('treats a stored key that cannot be read as an error, never as a new identity', async () => {
    const a = await createAgent()
    const stub = env.AGENTS.get(env.AGENTS.idFromName(a.did))
    const corrupt = new Uint8Array(60).fill(7)
    await runInDurableObject(stub, (instance, state) => {
      state.storage.sql.exec('UPDATE agent SET signing_key = ? WHERE id = 1', corrupt)
      // Drop what the object had loaded, as a restart would.
      ;(instance as unknown as { loaded: unknown }).loaded = null
    })
    const before = await getJson(`/did/${a.did}`)
    const res = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', record: note('after corruption') },
    })
    expect(res.body.error).toBe('KeyUnavailable')
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts/)
    // Nothing was regenerated: the stored bytes and the DID document are as they were.
    const stored = await runInDurableObject(
      stub,
      (_i, state) => state.storage.sql.exec<{ k: ArrayBuffer }>('SELECT signing_key AS k FROM agent').one().k,
    )
    expect(new Uint8Array(stored)).toEqual(corrupt)
    expect(await getJson(`/did/${a.did}`)).toEqual(before)
  })
})

describe('sync.getRepo since', () => {
  it('returns the head commit and only blocks written after the given rev', async () => {
    const a = await createAgent()
    const first = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', record: note('before') },
    })
    const later = await xrpc('com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'agent.memory.note', record: note('after') },
    })
    const car = await xrpc('com.atproto.sync.getRepo', {
      params: { did: a.did, since: first.body.commit.rev },
    })
    const { roots, blocks } = parseCar(car.bytes!)
    expect(cidToString(roots[0]!)).toBe(later.body.commit.cid)
    expect(blocks.has(later.body.commit.cid)).toBe(true)
    expect(blocks.has(later.body.cid)).toBe(true)
    expect(blocks.has(first.body.cid)).toBe(false)
    const full = parseCar((await xrpc('com.atproto.sync.getRepo', { params: { did: a.did } })).bytes!)
    expect(full.blocks.size).toBeGreaterThan(blocks.size)
  })
})

async function getJson(path: string): Promise<any> {
  return (await SELF.fetch(`http://127.0.0.1:8787${path}`)).json()
}
