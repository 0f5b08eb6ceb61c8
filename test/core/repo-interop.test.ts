/**
 * Repos written by us, checked by @atproto/repo (CAR verification, commit
 * signatures), and repos written by @atproto/repo checked by us; tampering,
 * sync 1.1 commit proofs, partial export and reload.
 */
import { P256Keypair, Secp256k1Keypair } from '@atproto/crypto'
import {
  getFullRepo,
  MemoryBlockstore,
  Repo as RefRepo,
  verifyCommitSig as refVerifyCommitSig,
  verifyRepoCar as refVerifyRepoCar,
  WriteOpAction,
} from '@atproto/repo'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { carBytes, carToBytes, parseCar } from '../../src/atproto/car.ts'
import { type Cid, cidForCbor, cidToString } from '../../src/atproto/cid.ts'
import { AtprotoError } from '../../src/atproto/errors.ts'
import { generateKeypair, type Keypair, type KeyType } from '../../src/atproto/keys.ts'
import { encodeNode, MemoryBlockStore } from '../../src/atproto/mst/index.ts'
import { encodeCommitGeneric } from '../../src/atproto/repo/commit.ts'
import {
  type CommitResult,
  commitSliceBlocks,
  commitSliceCar,
  decodeCommit,
  encodeCommit,
  encodeUnsignedCommit,
  exportRepoCarBytes,
  exportRepoCarSince,
  loadRepoFromCar,
  Repo,
  type RepoWrite,
  repoCar,
  signCommit,
  verifyCommit,
  verifyCommitProof,
  verifyRepoCar,
} from '../../src/atproto/repo/index.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    expect(err).toBeInstanceOf(AtprotoError)
    expect((err as AtprotoError).code).toBe(code)
    return
  }
  throw new Error(`expected AtprotoError ${code}`)
}

function post(i: number): Record<string, unknown> {
  return {
    $type: 'app.bsky.feed.post',
    text: `post number ${i} ${'x'.repeat(i % 17)}`,
    createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    langs: ['en'],
    reply: i % 5 === 0 ? { root: { uri: `at://${DID}/app.bsky.feed.post/${i}` } } : undefined,
    n: i,
  }
}
function clean(v: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(v)) as Record<string, unknown>
}

/** A repo with a few hundred records written in mixed batches. */
async function buildRepo(keypair: Keypair): Promise<{ repo: Repo; results: CommitResult[] }> {
  const repo = await Repo.create(DID, keypair)
  const results: CommitResult[] = []
  let i = 0
  for (let batch = 0; batch < 12; batch++) {
    const writes: RepoWrite[] = []
    for (let j = 0; j < 25; j++, i++) {
      const collection = ['app.bsky.feed.post', 'app.bsky.feed.like', 'com.example.thing'][i % 3]!
      writes.push({
        action: 'create',
        collection,
        rkey: `3k${String(i).padStart(11, '0')}`,
        record: clean(post(i)),
      })
    }
    results.push(await repo.applyWrites(writes))
  }
  // Updates and deletes, alone and mixed with creates.
  results.push(
    await repo.applyWrites([
      {
        action: 'update',
        collection: 'app.bsky.feed.post',
        rkey: '3k00000000000',
        record: { text: 'edited' },
      },
    ]),
  )
  results.push(
    await repo.applyWrites([{ action: 'delete', collection: 'app.bsky.feed.like', rkey: '3k00000000001' }]),
  )
  results.push(
    await repo.applyWrites([
      { action: 'delete', collection: 'com.example.thing', rkey: '3k00000000002' },
      { action: 'create', collection: 'com.example.thing', rkey: 'self', record: { name: 'new' } },
      {
        action: 'update',
        collection: 'app.bsky.feed.post',
        rkey: '3k00000000003',
        record: { text: 'again' },
      },
    ]),
  )
  return { repo, results }
}

function ourEntries(repo: Repo): string[] {
  return repo.mst.entries().map((e) => `${e.key}=${cidToString(e.value)}`)
}

describe.each<KeyType>(['p256', 'secp256k1'])('our repo, %s key', (type) => {
  it('exports a CAR that @atproto/repo verifies, with the same records', async () => {
    const keypair = await generateKeypair(type)
    const { repo } = await buildRepo(keypair)
    const car = await carToBytes(repoCar(repo))
    expect(exportRepoCarBytes(repo.store, repo.cid)).toEqual(car)
    const verified = await refVerifyRepoCar(car, DID, keypair.did)
    const refEntries = verified.creates
      .map((c) => `${c.collection}/${c.rkey}=${c.cid.toString()}`)
      .sort((a, b) => (a < b ? -1 : 1))
    expect(refEntries).toEqual(ourEntries(repo))
    expect(refEntries.length).toBe(300 - 2 + 1)
    expect(verified.commit.cid.toString()).toBe(cidToString(repo.cid))
    expect(verified.commit.rev).toBe(repo.rev)
    // And our verifier agrees, including the record values.
    const ours = await verifyRepoCar(car, DID, keypair.did)
    expect(ours.records.length).toBe(refEntries.length)
    expect(ours.records.find((r) => r.rkey === 'self')?.record).toEqual({ name: 'new' })
    expect(ours.records.find((r) => r.rkey === '3k00000000000')?.record).toEqual({ text: 'edited' })
    expect(ours.records.find((r) => r.rkey === '3k00000000010')?.record).toEqual(clean(post(10)))
    // The wrong key fails on both sides.
    const other = await generateKeypair(type)
    await expect(refVerifyRepoCar(car, DID, other.did)).rejects.toThrow()
    await expectCode(verifyRepoCar(car, DID, other.did), 'InvalidSignature')
    await expectCode(verifyRepoCar(car, 'did:plc:someoneelse', keypair.did), 'InvalidCommit')
  })

  it('signs commits that @atproto/repo verifyCommitSig accepts; revs increase', async () => {
    const keypair = await generateKeypair(type)
    const { results } = await buildRepo(keypair)
    let prevRev = ''
    for (const r of results) {
      const c = decodeCommit(r.commitBytes)
      expect(cidToString(cidForCbor(encodeCommit(c)))).toBe(cidToString(r.cid))
      const refCommit = {
        did: c.did,
        version: 3 as const,
        data: CID.decode(c.data.bytes),
        rev: c.rev,
        prev: null,
        sig: c.sig,
      }
      expect(await refVerifyCommitSig(refCommit, keypair.did)).toBe(true)
      await verifyCommit(r.commitBytes, keypair.did, DID)
      expect(r.rev > prevRev).toBe(true)
      expect(r.since < r.rev).toBe(true)
      prevRev = r.rev
    }
    const tampered = decodeCommit(results[0]!.commitBytes)
    tampered.rev = results[1]!.rev
    await expectCode(verifyCommit(encodeCommit(tampered), keypair.did), 'InvalidSignature')
  })

  it('commit slices pass the inductive proof check; a wrong prevData or a missing block fails', async () => {
    const keypair = await generateKeypair(type)
    const { results } = await buildRepo(keypair)
    for (const r of results) {
      const car = commitSliceCar(r)
      const parsed = parseCar(car)
      expect(cidToString(parsed.roots[0]!)).toBe(cidToString(r.cid))
      await verifyCommitProof({
        blocks: car,
        commit: r.cid,
        ops: r.ops,
        prevData: r.prevData,
        did: DID,
        didKey: keypair.did,
      })
      await expectCode(
        verifyCommitProof({ blocks: car, commit: r.cid, ops: r.ops, prevData: r.data, didKey: keypair.did }),
        'InvalidProof',
      )
    }
    // Drop each MST node of a mixed commit's slice in turn: every one is needed or harmless, never accepted wrongly.
    const mixed = results[results.length - 1]!
    const blocks = commitSliceBlocks(mixed)
    const mstNodes = [...blocks.keys()].filter((k) => k !== cidToString(mixed.cid) && !isRecord(mixed, k))
    let needed = 0
    for (const drop of mstNodes) {
      const partial = new Map(blocks)
      partial.delete(drop)
      try {
        await verifyCommitProof({
          blocks: partial,
          commit: mixed.cid,
          ops: mixed.ops,
          prevData: mixed.prevData,
        })
      } catch (err) {
        expect((err as AtprotoError).code).toBe('InvalidProof')
        needed++
      }
    }
    expect(needed).toBeGreaterThan(0)
    // Lying about an op fails too.
    const ops = mixed.ops.map((o) => (o.action === 'update' ? { ...o, prev: o.cid } : o))
    await expectCode(
      verifyCommitProof({ blocks, commit: mixed.cid, ops, prevData: mixed.prevData }),
      'InvalidProof',
    )
  })
})

function isRecord(r: CommitResult, cid: string): boolean {
  return r.ops.some((o) => o.cid !== null && cidToString(o.cid) === cid)
}

describe('repos written by @atproto/repo', () => {
  it.each(['p256', 'secp256k1'] as const)('our verifier accepts their CAR (%s)', async (type) => {
    const keypair = type === 'p256' ? await P256Keypair.create() : await Secp256k1Keypair.create()
    const storage = new MemoryBlockstore()
    let repo = await RefRepo.create(storage, DID, keypair)
    for (let b = 0; b < 6; b++) {
      const writes = Array.from({ length: 30 }, (_, j) => ({
        action: WriteOpAction.Create as const,
        collection: 'app.bsky.feed.post' as const,
        rkey: `3j${String(b * 30 + j).padStart(11, '0')}`,
        record: {
          $type: 'app.bsky.feed.post',
          text: `hello ${b}/${j}`,
          createdAt: new Date(0).toISOString(),
        },
      }))
      repo = await repo.applyWrites(writes, keypair)
    }
    repo = await repo.applyWrites(
      [{ action: WriteOpAction.Delete, collection: 'app.bsky.feed.post', rkey: '3j00000000005' }],
      keypair,
    )
    const chunks: Uint8Array[] = []
    for await (const c of getFullRepo(storage, repo.cid)) chunks.push(c)
    const car = Buffer.concat(chunks)
    const verified = await verifyRepoCar(new Uint8Array(car), DID, keypair.did())
    expect(verified.records.length).toBe(179)
    expect(cidToString(verified.commitCid)).toBe(repo.cid.toString())
    const refLeaves = (await repo.data.list(1000)).map((l) => `${l.key}=${l.value.toString()}`)
    expect(verified.records.map((r) => `${r.collection}/${r.rkey}=${cidToString(r.cid)}`)).toEqual(refLeaves)
    expect(verified.records[0]!.record).toEqual({
      $type: 'app.bsky.feed.post',
      text: 'hello 0/0',
      createdAt: new Date(0).toISOString(),
    })
    // We can keep writing on top of it.
    const ours = loadRepoFromCar(new Uint8Array(car), { keypair: await generateKeypair('p256') })
    const r = await ours.applyWrites([
      { action: 'create', collection: 'app.bsky.feed.post', rkey: 'zzz', record: { a: 1 } },
    ])
    expect(r.since).toBe(repo.commit.rev)
    expect(r.rev > repo.commit.rev).toBe(true)
  })
})

describe('tampering and malformed repos', () => {
  it('rejects tampered CARs with typed errors', async () => {
    const keypair = await generateKeypair('p256')
    const { repo } = await buildRepo(keypair)
    const car = exportRepoCarBytes(repo.store, repo.cid)
    const { roots, blocks } = parseCar(car)
    const list = [...blocks].map(([k, bytes]) => ({ cid: CID.parse(k).bytes, bytes }))

    // A flipped byte in the last block (a record): hash mismatch.
    const flipped = car.slice()
    flipped[flipped.length - 3]! ^= 0x01
    await expectCode(verifyRepoCar(flipped, DID, keypair.did), 'InvalidCar')

    // A record block left out.
    const lastRecord = list.findLast((b) =>
      repo.mst.entries().some((e) => cidToString(e.value) === CID.decode(b.cid).toString()),
    )!
    const missing = carBytes(
      roots,
      list.filter((b) => b !== lastRecord),
    )
    await expectCode(verifyRepoCar(missing, DID, keypair.did), 'MissingBlock')

    // An MST node left out.
    const node = list[1]!
    await expectCode(
      verifyRepoCar(
        carBytes(
          roots,
          list.filter((b) => b !== node),
        ),
        DID,
        keypair.did,
      ),
      'MissingBlock',
    )

    // Truncated.
    await expectCode(verifyRepoCar(car.subarray(0, car.length - 10), DID, keypair.did), 'InvalidCar')
  })

  it('rejects a validly signed but non-canonical tree', async () => {
    const keypair = await generateKeypair('p256')
    const rec = new Uint8Array([0xa1, 0x61, 0x61, 0x01]) // {a: 1}
    const recCid = cidForCbor(rec)
    const blocks = new Map<string, Uint8Array>([[cidToString(recCid), rec]])
    // "blue" has height 1; "com.example/asdf"-style keys mostly 0: put two keys out of order in one node.
    const badNodes: Uint8Array[] = [
      encodeNode(['com.example.a/b', 'com.example.a/a'], [recCid, recCid], [null, null, null]), // out of order
      encodeNode(['com.example.a/x'], [recCid], [cidForCbor(encodeNode([], [], [null])).bytes, null]), // subtree under layer 0
    ]
    for (const nodeBytes of badNodes) {
      const nodeCid = cidForCbor(nodeBytes)
      const commit = await signCommit(
        { did: DID, version: 3, data: nodeCid, rev: '3kaaaaaaaaaa2', prev: null },
        keypair,
      )
      const commitBytes = encodeCommit(commit)
      const commitCid = cidForCbor(commitBytes)
      const all = new Map(blocks)
      all.set(cidToString(nodeCid), nodeBytes)
      all.set(cidToString(commitCid), commitBytes)
      all.set(cidToString(cidForCbor(encodeNode([], [], [null]))), encodeNode([], [], [null]))
      const car = carBytes(
        [commitCid],
        [...all].map(([k, bytes]) => ({ cid: CID.parse(k).bytes, bytes })),
      )
      await expectCode(verifyRepoCar(car, DID, keypair.did), 'InvalidMst')
    }
  })

  it('refuses invalid writes without changing the repo', async () => {
    const keypair = await generateKeypair('p256')
    const repo = await Repo.create(DID, keypair)
    await repo.applyWrites([
      { action: 'create', collection: 'app.bsky.feed.post', rkey: 'a', record: { t: 1 } },
    ])
    const head = repo.cid
    await expectCode(
      repo.applyWrites([{ action: 'create', collection: 'app.bsky.feed.post', rkey: 'a', record: { t: 2 } }]),
      'InvalidCommit',
    )
    await expectCode(
      repo.applyWrites([{ action: 'delete', collection: 'app.bsky.feed.post', rkey: 'b' }]),
      'InvalidCommit',
    )
    await expectCode(
      repo.applyWrites([{ action: 'update', collection: 'app.bsky.feed.post', rkey: 'b', record: { t: 2 } }]),
      'InvalidCommit',
    )
    await expectCode(
      repo.applyWrites([
        { action: 'create', collection: 'app.bsky.feed.post', rkey: 'c', record: { f: 1.5 } },
      ]),
      'InvalidRecord',
    )
    await expectCode(
      repo.applyWrites([{ action: 'create', collection: 'not a nsid', rkey: 'c', record: { t: 1 } }]),
      'InvalidCommit',
    )
    expect(cidToString(repo.cid)).toBe(cidToString(head))
    expect(repo.getRecord('app.bsky.feed.post', 'a')).toEqual({ t: 1 })
    expect([...repo.listRecords('app.bsky.feed.post')].map((r) => r.rkey)).toEqual(['a'])
  })
})

describe('writer behaviour', () => {
  it('serialises concurrent applyWrites calls into a chain of commits', async () => {
    const keypair = await generateKeypair('p256')
    const repo = await Repo.create(DID, keypair)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        repo.applyWrites([
          { action: 'create', collection: 'app.bsky.feed.post', rkey: `k${i}`, record: { i } },
        ]),
      ),
    )
    for (let i = 1; i < results.length; i++) {
      expect(cidToString(results[i]!.prevCommit)).toBe(cidToString(results[i - 1]!.cid))
      expect(cidToString(results[i]!.prevData)).toBe(cidToString(results[i - 1]!.data))
      expect(results[i]!.rev > results[i - 1]!.rev).toBe(true)
    }
    // A failing call in the middle does not break the chain.
    const [a, b, c] = await Promise.allSettled([
      repo.applyWrites([
        { action: 'create', collection: 'app.bsky.feed.post', rkey: 'x1', record: { a: 1 } },
      ]),
      repo.applyWrites([
        { action: 'create', collection: 'app.bsky.feed.post', rkey: 'x1', record: { a: 2 } },
      ]),
      repo.applyWrites([
        { action: 'create', collection: 'app.bsky.feed.post', rkey: 'x2', record: { a: 3 } },
      ]),
    ])
    expect(a.status).toBe('fulfilled')
    expect(b.status).toBe('rejected')
    expect(c.status).toBe('fulfilled')
    await verifyRepoCar(exportRepoCarBytes(repo.store, repo.cid), DID, keypair.did)
    expect(repo.mst.size()).toBe(22)
  })

  it('prepare leaves store and head alone; advance moves the head; stale results are refused', async () => {
    const keypair = await generateKeypair('p256')
    const repo = await Repo.create(DID, keypair)
    const before = (repo.store as MemoryBlockStore).size
    const head = repo.cid
    const r = await repo.prepare([
      { action: 'create', collection: 'app.bsky.feed.post', rkey: 'p', record: { p: 1 } },
    ])
    expect(cidToString(repo.cid)).toBe(cidToString(head))
    expect((repo.store as MemoryBlockStore).size).toBe(before)
    for (const [k, v] of r.newBlocks) repo.store.put(k, v)
    repo.advance(r)
    expect(cidToString(repo.cid)).toBe(cidToString(r.cid))
    expect(repo.getRecord('app.bsky.feed.post', 'p')).toEqual({ p: 1 })
    expect(() => repo.advance(r)).toThrow(AtprotoError)
    await verifyRepoCar(exportRepoCarBytes(repo.store, repo.cid), DID, keypair.did)
  })

  it('hand-encoded commits equal the generic DAG-CBOR encoder', async () => {
    const keypair = await generateKeypair('p256')
    const { results } = await buildRepo(keypair)
    for (const r of results.slice(0, 3)) {
      expect(encodeCommitGeneric(r.commit)).toEqual(r.commitBytes)
      const { sig, ...unsigned } = r.commit
      expect(encodeCommitGeneric(unsigned)).toEqual(encodeUnsignedCommit(unsigned))
      expect(encodeCommitGeneric({ ...r.commit, prev: r.commit.data })).toEqual(
        encodeCommit({ ...r.commit, prev: r.commit.data }),
      )
      expect(sig.length).toBe(64)
    }
  })
})

describe('partial export and reload', () => {
  it('a since-export on top of the old repo gives the new repo', async () => {
    const keypair = await generateKeypair('p256')
    const { repo, results } = await buildRepo(keypair)
    const old = results[5]!
    const since = await carToBytes(exportRepoCarSince(repo.store, repo.cid, old.cid))
    // Old repo's blocks (as exported then) + the since CAR = a complete new repo.
    const oldCar = exportRepoCarBytes(repo.store, old.cid)
    const store = new MemoryBlockStore(parseCar(oldCar).blocks)
    for (const [k, v] of parseCar(since).blocks) store.put(k, v)
    const full = carBytes(
      [repo.cid],
      [...store.blocks].map(([k, bytes]) => ({ cid: CID.parse(k).bytes, bytes })),
    )
    const verified = await verifyRepoCar(full, DID, keypair.did)
    expect(verified.records.map((r) => `${r.collection}/${r.rkey}=${cidToString(r.cid)}`)).toEqual(
      ourEntries(repo),
    )
    expect(parseCar(since).blocks.size).toBeLessThan(store.size)
  })

  it('reloads from a CAR and keeps committing', async () => {
    const keypair = await generateKeypair('secp256k1')
    const { repo } = await buildRepo(keypair)
    const car = exportRepoCarBytes(repo.store, repo.cid)
    const loaded = loadRepoFromCar(car, { keypair })
    expect(ourEntries(loaded)).toEqual(ourEntries(repo))
    const r = await loaded.applyWrites([
      { action: 'create', collection: 'app.bsky.feed.post', rkey: 'after-reload', record: { ok: true } },
    ])
    expect(r.since).toBe(repo.rev)
    const again = await verifyRepoCar(exportRepoCarBytes(loaded.store, loaded.cid), DID, keypair.did)
    expect(again.records.length).toBe(ourEntries(repo).length + 1)
    const check = (c: Cid) => cidToString(c)
    expect(check(r.prevData)).toBe(check(repo.commit.data))
  })
})
