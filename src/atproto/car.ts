/**
 * CAR v1 archives: read (with optional hash verification) and streaming write.
 */
import * as Car from '@atcute/car'
import { type Cid, type CidLink, CODEC_RAW, cidEquals, cidForCbor, cidForRaw, cidToString } from './cid.ts'
import { fail, guard } from './errors.ts'

export interface CarBlock {
  cid: Cid
  bytes: Uint8Array
}

export interface ParsedCar {
  roots: CidLink[]
  /** Blocks by CID string, in file order. */
  blocks: Map<string, Uint8Array>
}

/** Read a whole CAR. With `verify`, every block's bytes must hash to its CID. */
export async function readCar(bytes: Uint8Array, opts: { verify?: boolean } = {}): Promise<ParsedCar> {
  const entries = guard('InvalidCar', 'malformed CAR', () => {
    const reader = Car.fromUint8Array(bytes)
    return { roots: reader.roots, list: [...reader] }
  })
  const blocks = new Map<string, Uint8Array>()
  for (const entry of entries.list) {
    if (opts.verify) {
      const actual =
        entry.cid.codec === CODEC_RAW ? await cidForRaw(entry.bytes) : await cidForCbor(entry.bytes)
      if (!cidEquals(actual, entry.cid))
        fail('InvalidCar', `block ${cidToString(entry.cid)} does not match its hash`)
    }
    blocks.set(cidToString(entry.cid), entry.bytes)
  }
  return { roots: entries.roots, blocks }
}

/** Stream a CAR: the header first, then one chunk per block, as blocks arrive. */
export function writeCar(
  roots: CidLink[],
  blocks: Iterable<CarBlock> | AsyncIterable<CarBlock>,
): AsyncGenerator<Uint8Array> {
  return Car.writeCarStream(roots, mapBlocks(blocks))
}

async function* mapBlocks(blocks: Iterable<CarBlock> | AsyncIterable<CarBlock>) {
  for await (const b of blocks) yield { cid: b.cid.bytes, data: b.bytes }
}

/** Collect a CAR stream into one buffer. */
export async function carToBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of chunks) {
    parts.push(chunk)
    size += chunk.length
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
