/**
 * Property tests: our MST against @atproto/repo's on long random sequences of
 * creates, updates and deletes (same root CID after every batch), and our
 * proofs, diffs and listings against brute force.
 */
import { MemoryBlockstore, MST } from '@atproto/repo'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { encodeCbor } from '../../src/atproto/cbor.ts'
import { type Cid, cidForCbor, cidToString } from '../../src/atproto/cid.ts'
import { ArenaBlockStore, bytesEqual, diffMst, MemoryBlockStore, Mst } from '../../src/atproto/mst/index.ts'
import { finalizeStats } from '../../src/atproto/mst/node.ts'

/** Small seeded PRNG (mulberry32) so failures replay. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const COLLECTIONS = [
  'app.bsky.feed.post',
  'app.bsky.feed.like',
  'app.bsky.graph.follow',
  'com.example.record',
]
const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz'

function randomKey(rand: () => number): string {
  const coll = COLLECTIONS[Math.floor(rand() * COLLECTIONS.length)]!
  // TID-like keys share long prefixes (exercises prefix compression); short ones spread out.
  const len = rand() < 0.7 ? 13 : 1 + Math.floor(rand() * 20)
  let rkey = rand() < 0.7 ? '3l' : ''
  while (rkey.length < len) rkey += ALPHABET[Math.floor(rand() * ALPHABET.length)]
  return `${coll}/${rkey}`
}

let valueCounter = 0
function freshValue(): Cid {
  return cidForCbor(encodeCbor({ n: valueCounter++ }))
}

const toRef = (cid: Cid): CID => CID.decode(cid.bytes)
const str = (cid: Cid): string => cidToString(cid)

type Op = { kind: 'create' | 'update' | 'delete'; key: string; value?: Cid }

function randomBatch(rand: () => number, live: Map<string, Cid>, size: number): Op[] {
  const ops: Op[] = []
  const touched = new Set<string>()
  for (let i = 0; i < size; i++) {
    const r = rand()
    const keys = [...live.keys()].filter((k) => !touched.has(k))
    if (r < 0.5 || keys.length < 5) {
      let key = randomKey(rand)
      while (live.has(key) || touched.has(key)) key = randomKey(rand)
      const value = freshValue()
      ops.push({ kind: 'create', key, value })
      live.set(key, value)
      touched.add(key)
    } else {
      const key = keys[Math.floor(rand() * keys.length)]!
      touched.add(key)
      if (r < 0.75) {
        const value = freshValue()
        ops.push({ kind: 'update', key, value })
        live.set(key, value)
      } else {
        ops.push({ kind: 'delete', key })
        live.delete(key)
      }
    }
  }
  return ops
}

function applyOurs(mst: Mst, ops: Op[]): Mst {
  for (const op of ops) {
    if (op.kind === 'create') mst = mst.add(op.key, op.value!)
    else if (op.kind === 'update') mst = mst.update(op.key, op.value!)
    else mst = mst.delete(op.key)
  }
  return mst
}

async function applyRef(mst: MST, ops: Op[]): Promise<MST> {
  for (const op of ops) {
    if (op.kind === 'create') mst = await mst.add(op.key, toRef(op.value!))
    else if (op.kind === 'update') mst = await mst.update(op.key, toRef(op.value!))
    else mst = await mst.delete(op.key)
  }
  return mst
}

function allNodeCids(mst: Mst): Set<string> {
  return new Set([...mst.nodes()].map((b) => b.cidToString))
}

/** Brute-force checks of diff, proofs and listing between two consecutive trees. */
function checkAgainstBruteForce(before: Mst, after: Mst, rand: () => number): void {
  const a = new Map(before.entries().map((e) => [e.key, str(e.value)]))
  const b = new Map(after.entries().map((e) => [e.key, str(e.value)]))

  // diff
  const diff = diffMst(before, after)
  const adds = [...b].filter(([k]) => !a.has(k)).map(([k, v]) => `${k}=${v}`)
  const dels = [...a].filter(([k]) => !b.has(k)).map(([k, v]) => `${k}=${v}`)
  const upds = [...b].filter(([k, v]) => a.has(k) && a.get(k) !== v).map(([k, v]) => `${k}:${a.get(k)}>${v}`)
  expect(diff.adds.map((o) => `${o.key}=${str(o.cid)}`).sort()).toEqual(adds.sort())
  expect(diff.deletes.map((o) => `${o.key}=${str(o.prev)}`).sort()).toEqual(dels.sort())
  expect(diff.updates.map((o) => `${o.key}:${str(o.prev)}>${str(o.cid)}`).sort()).toEqual(upds.sort())
  const nodesA = allNodeCids(before)
  const nodesB = allNodeCids(after)
  expect([...diff.newBlocks.keys()].sort()).toEqual([...nodesB].filter((c) => !nodesA.has(c)).sort())
  expect([...diff.removedNodes].sort()).toEqual([...nodesA].filter((c) => !nodesB.has(c)).sort())
  const valsA = new Set(a.values())
  const valsB = new Set(b.values())
  expect([...diff.newLeafCids].every((c) => valsB.has(c))).toBe(true)
  expect([...diff.removedLeafCids].every((c) => valsA.has(c) && !diff.newLeafCids.has(c))).toBe(true)

  // proofs: a partial tree of just the covering proof answers the lookup, and
  // supports the inverse write, giving the same root as the full tree.
  const present = [...b.keys()]
  const probes = [
    ...Array.from({ length: 5 }, () => present[Math.floor(rand() * present.length)]!),
    ...Array.from({ length: 5 }, () => randomKey(rand)),
  ].filter((k) => k !== undefined)
  for (const key of probes) {
    const proof = after.coveringProof(key)
    const partial = Mst.load(new MemoryBlockStore(proof), after.rootCid(), { strict: true })
    const value = after.get(key)
    expect(partial.get(key) && str(partial.get(key)!)).toBe(value && str(value))
    if (value) expect(str(partial.delete(key).rootCid())).toBe(str(after.delete(key).rootCid()))
    else {
      const v = freshValue()
      expect(str(partial.add(key, v).rootCid())).toBe(str(after.add(key, v).rootCid()))
    }
  }

  // listing
  const sorted = [...b.keys()].sort()
  const from = randomKey(rand)
  expect([...after.list({ from })].map((e) => e.key)).toEqual(sorted.filter((k) => k >= from))
  const coll = COLLECTIONS[Math.floor(rand() * COLLECTIONS.length)]!
  const prefix = `${coll}/3l`
  expect([...after.list({ prefix, limit: 7 })].map((e) => e.key)).toEqual(
    sorted.filter((k) => k.startsWith(prefix)).slice(0, 7),
  )
  const after0 = sorted[Math.floor(sorted.length / 2)]
  if (after0 !== undefined)
    expect([...after.list({ after: after0 })].map((e) => e.key)).toEqual(sorted.filter((k) => k > after0))
}

describe('block stores', () => {
  it('ArenaBlockStore keeps what it is given, across chunks and for big blocks', () => {
    const arena = new ArenaBlockStore()
    const plain = new MemoryBlockStore()
    const rand = rng(3)
    for (let i = 0; i < 6000; i++) {
      const size = rand() < 0.01 ? 200_000 + Math.floor(rand() * 100_000) : Math.floor(rand() * 700)
      const bytes = new Uint8Array(size).map(() => Math.floor(rand() * 256))
      const cid = cidToString(cidForCbor(bytes))
      arena.put(cid, bytes)
      plain.put(cid, bytes)
      if (i % 7 === 0) {
        arena.delete(cid)
        plain.delete(cid)
      }
    }
    expect(arena.size).toBe(plain.size)
    for (const [cid, bytes] of plain.blocks) {
      expect(arena.has(cid)).toBe(true)
      expect(bytesEqual(arena.get(cid)!, bytes)).toBe(true)
    }
    expect([...arena.entries()].length).toBe(plain.size)
    expect(arena.get('bafyreinope')).toBeUndefined()
  })
})

describe('MST vs @atproto/repo', () => {
  it('matches the reference root after every batch of a long random sequence', async () => {
    const rand = rng(0x5eed)
    const live = new Map<string, Cid>()
    let ours = Mst.create()
    let ref = await MST.create(new MemoryBlockstore())
    let total = 0
    let batches = 0
    const counts = { create: 0, update: 0, delete: 0 }
    while (total < 2400) {
      const size = 1 + Math.floor(rand() * (rand() < 0.2 ? 100 : 12))
      const ops = randomBatch(rand, live, size)
      for (const op of ops) counts[op.kind]++
      const before = ours
      ours = applyOurs(ours, ops)
      ref = await applyRef(ref, ops)
      expect(str(ours.rootCid())).toBe((await ref.getPointer()).toString())
      if (batches % 10 === 0) checkAgainstBruteForce(before, ours, rand)
      total += ops.length
      batches++
    }
    // Drain to empty: deletes all the way down, still in step.
    const rest = [...live.keys()]
    for (let i = 0; i < rest.length; i += 50) {
      const ops: Op[] = rest.slice(i, i + 50).map((key) => ({ kind: 'delete', key }))
      counts.delete += ops.length
      total += ops.length
      ours = applyOurs(ours, ops)
      ref = await applyRef(ref, ops)
      expect(str(ours.rootCid())).toBe((await ref.getPointer()).toString())
    }
    expect(ours.isEmpty).toBe(true)
    console.log(
      `mst property: ${total} ops (${JSON.stringify(counts)}) in ${batches} batches + drain, roots equal`,
    )
    expect(total).toBeGreaterThanOrEqual(2000)
  })

  it('fast-check: random op sequences keep roots equal, proofs complete, diffs exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 20, max: 300 }),
        async (seed, n) => {
          const rand = rng(seed)
          const live = new Map<string, Cid>()
          let ours = Mst.create()
          let ref = await MST.create(new MemoryBlockstore())
          let done = 0
          while (done < n) {
            const ops = randomBatch(rand, live, 1 + Math.floor(rand() * 30))
            const before = ours
            ours = applyOurs(ours, ops)
            ref = await applyRef(ref, ops)
            expect(str(ours.rootCid())).toBe((await ref.getPointer()).toString())
            checkAgainstBruteForce(before, ours, rand)
            done += ops.length
          }
          // Persisted and reloaded lazily from a block store, the tree reads the same.
          const store = new MemoryBlockStore()
          for (const b of ours.nodes()) store.put(b.cidToString, b.bytes)
          const loaded = Mst.load(store, ours.rootCid(), { strict: true })
          expect(loaded.entries().map((e) => `${e.key}=${str(e.value)}`)).toEqual(
            [...live].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => `${k}=${str(v)}`),
          )
        },
      ),
      { numRuns: 15, seed: 42 },
    )
  })

  it('matches the reference with TID-ordered keys (right-edge writes, big nodes, resumed hashing)', async () => {
    // Increasing keys land on the right edge: path copies there re-encode and
    // re-hash only the changed tail of each node.
    const rand = rng(99)
    const stats = { ...finalizeStats }
    let ours = Mst.create()
    let ref = await MST.create(new MemoryBlockstore())
    const keys: string[] = []
    let t = 0x3_0000_0000
    for (let batch = 0; batch < 60; batch++) {
      const ops: Op[] = []
      for (let j = 0; j < 1 + Math.floor(rand() * 40); j++) {
        t += 1 + Math.floor(rand() * 5000)
        let s = ''
        for (let n = t, i = 0; i < 11; i++, n = Math.floor(n / 32)) s = ALPHABET[n % 32] + s
        const key = `app.bsky.feed.post/3k${s}`
        keys.push(key)
        ops.push({ kind: 'create', key, value: freshValue() })
      }
      // And some updates/deletes of older keys, which touch the middle of big nodes.
      const live = keys.filter((k) => !ops.some((o) => o.key === k))
      for (let j = 0; j < 3 && live.length > 10; j++) {
        const key = live.splice(Math.floor(rand() * live.length), 1)[0]!
        if (ours.has(key))
          ops.push(rand() < 0.5 ? { kind: 'update', key, value: freshValue() } : { kind: 'delete', key })
      }
      ours = applyOurs(ours, ops)
      ref = await applyRef(ref, ops)
      expect(str(ours.rootCid())).toBe((await ref.getPointer()).toString())
    }
    const sizes = [...ours.nodes()].map((b) => b.bytes.length)
    expect(Math.max(...sizes)).toBeGreaterThan(512)
    // The fast paths were taken (and the roots above show they are right).
    expect(finalizeStats.patched - stats.patched).toBeGreaterThan(100)
    expect(finalizeStats.resumed - stats.resumed).toBeGreaterThan(50)
    console.log(
      `mst property (TID order): ${keys.length} keys, largest node ${Math.max(...sizes)} bytes, roots equal`,
    )
  })

  it('covering proofs equal the reference getCoveringProof', async () => {
    const rand = rng(7)
    const live = new Map<string, Cid>()
    const ops = randomBatch(rand, live, 600)
    const ours = applyOurs(Mst.create(), ops)
    const ref = await applyRef(await MST.create(new MemoryBlockstore()), ops)
    const keys = [...live.keys()]
    const probes = [...keys.slice(0, 40), ...Array.from({ length: 40 }, () => randomKey(rand))]
    for (const key of probes) {
      const refProof = await ref.getCoveringProof(key)
      const expected = refProof
        .cids()
        .map((c) => c.toString())
        .sort()
      expect([...ours.coveringProof(key).keys()].sort()).toEqual(expected)
    }
  })
})
