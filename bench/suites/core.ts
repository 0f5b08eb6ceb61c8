/**
 * Core repo benchmarks: Murmur's MST/repo vs @atproto/repo 0.10.14, both in
 * Node, both signing with P-256 keys, both storing blocks in memory.
 */
import { P256Keypair } from '@atproto/crypto'
import {
  getFullRepo,
  MemoryBlockstore,
  Repo as RefRepo,
  verifyRepoCar as refVerifyRepoCar,
  WriteOpAction,
} from '@atproto/repo'
import { carToBytes } from '../../src/atproto/car.ts'
import { generateKeypair } from '../../src/atproto/keys.ts'
import { Repo, type RepoWrite, repoCar, verifyRepoCar } from '../../src/atproto/repo/index.ts'
import { type BenchEntry, entry, opsPerSecond, percentile, timeMs } from '../lib.ts'

const DID = 'did:plc:benchbenchbenchbenchbenc'
const BASELINE = '@atproto/repo 0.10.14'

function record(i: number) {
  return {
    $type: 'app.bsky.feed.post',
    text: `benchmark post ${i}: the quick brown fox jumps over the lazy dog`,
    createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    langs: ['en'],
  }
}

const ALPHA = '234567abcdefghijklmnopqrstuvwxyz'
/** Deterministic TID-shaped rkeys (13 chars, increasing). */
function rkey(i: number): string {
  let n = 0x3_0000_0000 + i * 7919
  let s = ''
  for (let j = 0; j < 11; j++) {
    s = ALPHA[n % 32]! + s
    n = Math.floor(n / 32)
  }
  return `3k${s}`
}

function ourWrites(from: number, count: number): RepoWrite[] {
  return Array.from({ length: count }, (_, j) => ({
    action: 'create' as const,
    collection: 'app.bsky.feed.post',
    rkey: rkey(from + j),
    record: record(from + j),
  }))
}

function refWrites(from: number, count: number) {
  return Array.from({ length: count }, (_, j) => ({
    action: WriteOpAction.Create as const,
    collection: 'app.bsky.feed.post' as const,
    rkey: rkey(from + j),
    record: record(from + j),
  }))
}

async function concat(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  return carToBytes(chunks)
}

export default async function core(): Promise<BenchEntry[]> {
  const out: BenchEntry[] = []
  const ourKey = await generateKeypair('p256')
  const refKey = await P256Keypair.create()

  // Everything is measured in alternating rounds (ours, theirs, ours, …) and
  // each side's median round is reported, so machine noise hits both alike.
  // ── single-record commits, on repos that already hold 1,000 records ──
  {
    const ours = await Repo.create(DID, ourKey)
    for (let i = 0; i < 10; i++) await ours.applyWrites(ourWrites(i * 100, 100))
    let ref = await RefRepo.create(new MemoryBlockstore(), DID, refKey)
    for (let i = 0; i < 10; i++) ref = await ref.applyWrites(refWrites(i * 100, 100), refKey)
    let next = 1_000_000
    // warm-up
    for (let i = 0; i < 500; i++) await ours.applyWrites(ourWrites(next++, 1))
    for (let i = 0; i < 50; i++) ref = await ref.applyWrites(refWrites(next++, 1), refKey)
    const oursRates: number[] = []
    const refRates: number[] = []
    for (let round = 0; round < 5; round++) {
      oursRates.push(await opsPerSecond(1500, () => ours.applyWrites(ourWrites(next++, 1))))
      refRates.push(
        await opsPerSecond(150, async () => {
          ref = await ref.applyWrites(refWrites(next++, 1), refKey)
        }),
      )
    }
    out.push(
      entry(
        'single-record commits (P-256)',
        'commits/s',
        percentile(oursRates, 50),
        percentile(refRates, 50),
        BASELINE,
        'higher-is-better',
      ),
    )
  }

  // ── 100-record commits ──
  {
    const ours = await Repo.create(DID, ourKey)
    let ref = await RefRepo.create(new MemoryBlockstore(), DID, refKey)
    await ours.applyWrites(ourWrites(0, 100))
    ref = await ref.applyWrites(refWrites(0, 100), refKey)
    let next = 100
    const oursRates: number[] = []
    const refRates: number[] = []
    for (let round = 0; round < 3; round++) {
      const o = await opsPerSecond(20, () => {
        const w = ourWrites(next, 100)
        next += 100
        return ours.applyWrites(w)
      })
      oursRates.push(100 * o)
      const r = await opsPerSecond(5, async () => {
        const w = refWrites(next, 100)
        next += 100
        ref = await ref.applyWrites(w, refKey)
      })
      refRates.push(100 * r)
    }
    out.push(
      entry(
        'records in 100-record commits (P-256)',
        'records/s',
        percentile(oursRates, 50),
        percentile(refRates, 50),
        BASELINE,
        'higher-is-better',
      ),
    )
  }

  // ── 10,000-record repo: full CAR export and verification ──
  {
    const N = 10_000
    const ours = await Repo.create(DID, ourKey)
    const refStorage = new MemoryBlockstore()
    let ref = await RefRepo.create(refStorage, DID, refKey)
    for (let i = 0; i < N; i += 500) {
      await ours.applyWrites(ourWrites(i, 500))
      ref = await ref.applyWrites(refWrites(i, 500), refKey)
    }
    // Export from a freshly loaded repo (nothing decoded yet), like serving a cold request.
    const cold = () => Repo.load(ours.store, ours.cid)
    const car = await concat(repoCar(cold()))
    const exportOurs: number[] = []
    const exportRef: number[] = []
    const verifyOurs: number[] = []
    const verifyRef: number[] = []
    for (let round = 0; round < 4; round++) {
      exportOurs.push(await timeMs(() => concat(repoCar(cold()))))
      exportRef.push(await timeMs(() => concat(getFullRepo(refStorage, ref.cid))))
      // Both verifiers check the same CAR (ours). Ours also decodes every record
      // and checks the tree is canonical (key heights, encoding), which theirs does not.
      verifyOurs.push(await timeMs(() => verifyRepoCar(car, DID, ourKey.did)))
      verifyRef.push(await timeMs(() => refVerifyRepoCar(car, DID, ourKey.did)))
    }
    out.push(
      entry(
        'full CAR export, 10k records',
        'ms',
        percentile(exportOurs, 50),
        percentile(exportRef, 50),
        BASELINE,
        'lower-is-better',
      ),
    )
    out.push(
      entry(
        'verify full repo CAR, 10k records',
        'ms',
        percentile(verifyOurs, 50),
        percentile(verifyRef, 50),
        BASELINE,
        'lower-is-better',
      ),
    )
  }
  return out
}
