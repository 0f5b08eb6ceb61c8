/** Opening repos from a CAR or a block store. */

import { parseCar } from '../car.ts'
import { fail } from '../errors.ts'
import { MemoryBlockStore } from '../mst/blocks.ts'
import { Repo } from './repo.ts'
import type { RepoOptions } from './types.ts'

/**
 * Load a repo from a full CAR (blocks hash-checked; structure is checked
 * lazily as it is read; use `verifyRepoCar` to check everything up front).
 */
export function loadRepoFromCar(carBytes: Uint8Array, opts: RepoOptions = {}): Repo {
  const { roots, blocks } = parseCar(carBytes, { verify: true })
  if (roots.length !== 1) fail('InvalidCar', `expected one root, got ${roots.length}`)
  let store = opts.store
  if (store) for (const [cid, bytes] of blocks) store.put(cid, bytes)
  else store = new MemoryBlockStore(blocks)
  return Repo.load(store, roots[0]!, opts)
}
