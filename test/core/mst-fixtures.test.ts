/**
 * atproto interop fixtures for the MST: key heights, common prefix lengths,
 * the example keys (named for their height), and the firehose commit-proof
 * cases (roots before/after, proof blocks, inverting the ops on the proof).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cid, cidToString, parseCid } from '../../src/atproto/cid.ts'
import {
  commonPrefixLength,
  isValidMstKey,
  leadingZerosOnHash,
  MemoryBlockStore,
  Mst,
} from '../../src/atproto/mst/index.ts'
import { FIXTURES, fixtureJson, Tally } from './fixtures.ts'

const readJson = fixtureJson

const tally = new Tally()
/** Run one fixture case, counting it for the printed tally. */
function check(family: string, fn: () => void): void {
  let ok = false
  try {
    fn()
    ok = true
  } finally {
    tally.record(family, ok)
  }
}

afterAll(() => tally.print())

describe('mst/key_heights.json', () => {
  const cases = readJson<{ key: string; height: number }[]>('mst/key_heights.json')
  for (const c of cases) {
    it(`height of ${JSON.stringify(c.key)} is ${c.height}`, () => {
      check('mst/key_heights', () => expect(leadingZerosOnHash(c.key)).toBe(c.height))
    })
  }
})

describe('mst/common_prefix.json', () => {
  const cases = readJson<{ left: string; right: string; len: number }[]>('mst/common_prefix.json')
  for (const c of cases) {
    it(`common prefix of ${JSON.stringify(c.left)} and ${JSON.stringify(c.right)} is ${c.len}`, () => {
      check('mst/common_prefix', () => expect(commonPrefixLength(c.left, c.right)).toBe(c.len))
    })
  }
})

describe('mst/example_keys.txt', () => {
  // Each key is named for its height: `<letter><height>/<digits>`.
  const keys = readFileSync(join(FIXTURES, 'mst/example_keys.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
  it('has keys', () => expect(keys.length).toBeGreaterThan(100))
  for (const key of keys) {
    it(`${key} is a valid key at height ${key[1]}`, () => {
      check('mst/example_keys', () => {
        expect(isValidMstKey(key)).toBe(true)
        expect(leadingZerosOnHash(key)).toBe(Number(key[1]))
      })
    })
  }
  it('builds the same tree in any insertion order', () => {
    check('mst/example_keys (tree)', () => {
      const leaf = parseCid('bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454')
      let a = Mst.create()
      for (const k of keys) a = a.add(k, leaf)
      let b = Mst.create()
      for (const k of [...keys].reverse()) b = b.add(k, leaf)
      expect(cidToString(a.rootCid())).toBe(cidToString(b.rootCid()))
      expect(a.entries().map((e) => e.key)).toEqual([...keys].sort())
    })
  })
})

interface ProofFixture {
  comment: string
  leafValue: string
  keys: string[]
  adds: string[]
  dels: string[]
  rootBeforeCommit: string
  rootAfterCommit: string
  blocksInProof: string[]
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  const out: T[][] = []
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest])
  })
  return out
}

describe('firehose/commit-proof-fixtures.json', () => {
  const fixtures = readJson<ProofFixture[]>('firehose/commit-proof-fixtures.json')
  for (const fx of fixtures) {
    it(fx.comment, () => {
      check('firehose/commit-proof', () => {
        const leaf: Cid = parseCid(fx.leafValue)
        const store = new MemoryBlockStore()
        let mst = Mst.create(store)
        for (const k of fx.keys) mst = mst.add(k, leaf)
        expect(cidToString(mst.rootCid())).toBe(fx.rootBeforeCommit)
        for (const k of fx.adds) mst = mst.add(k, leaf)
        for (const k of fx.dels) mst = mst.delete(k)
        const rootAfter = mst.rootCid()
        expect(cidToString(rootAfter)).toBe(fx.rootAfterCommit)

        // The proof our writer ships: covering proofs of every changed key in the new tree.
        const proof = new Map<string, Uint8Array>()
        for (const k of [...fx.adds, ...fx.dels]) mst.coveringProof(k, proof)
        for (const cid of fx.blocksInProof) expect(proof.has(cid), `proof lacks ${cid}`).toBe(true)
        expect([...proof.keys()].sort()).toEqual([...fx.blocksInProof].sort())

        // Undo the ops on the partial tree, in every order: always the old root.
        const inverts = [
          ...fx.adds.map((k) => (t: Mst) => t.delete(k)),
          ...fx.dels.map((k) => (t: Mst) => t.add(k, leaf)),
        ]
        for (const order of permutations(inverts)) {
          let partial = Mst.load(new MemoryBlockStore(new Map(proof)), rootAfter, { strict: true })
          for (const fn of order) partial = fn(partial)
          expect(cidToString(partial.rootCid())).toBe(fx.rootBeforeCommit)
        }
      })
    })
  }
})
