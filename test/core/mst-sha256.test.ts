/** Our synchronous SHA-256 (plain and resumable) against node:crypto. */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sha256 } from '../../src/atproto/mst/index.ts'
import { sha256Resume } from '../../src/atproto/sha256.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const ref = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('sha256', () => {
  it('matches node:crypto for every length 0..1100', () => {
    for (let n = 0; n <= 1100; n++) {
      const d = new Uint8Array(n).map((_, i) => (i * 131 + n * 7) & 255)
      expect(hex(sha256(d))).toBe(ref(d))
    }
  })

  it('resuming from a saved midstate gives the same digest', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.nat(),
        fc.nat(),
        (prefix, tail, saveAt, cut) => {
          const a = new Uint8Array([...prefix, ...tail])
          const outA = new Uint8Array(32)
          const mid = sha256Resume(a, outA, 0, null, saveAt % 40)
          expect(hex(outA)).toBe(ref(a))
          // A second input sharing the bytes before the saved block resumes from it.
          const b = a.slice(0, Math.min(a.length, (mid?.block ?? 0) * 64 + (cut % 200)))
          const outB = new Uint8Array(32)
          const usable = mid !== null && mid.block * 64 <= b.length ? mid : null
          sha256Resume(b, outB, 0, usable, 0)
          expect(hex(outB)).toBe(ref(b))
        },
      ),
      { numRuns: 300 },
    )
  })
})
