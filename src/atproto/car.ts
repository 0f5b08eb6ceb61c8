/**
 * CAR v1 archives: parsing with synchronous hash checks (WebCrypto's
 * async digest costs tens of microseconds per call, which dominates on
 * repos of many small blocks), and a writer that batches blocks into chunks.
 */
import * as Car from '@atcute/car'
import { concat } from '@atcute/uint8array'
import { blockMatchesCid, type Cid, type CidLink, cidFromLink, cidToString } from './cid.ts'
import { fail, guard } from './errors.ts'

export interface CarContents {
  roots: Cid[]
  /** Blocks by CID string, in file order. */
  blocks: Map<string, Uint8Array>
}

/** Parse a CAR; with `verify` (the default), every block must hash to its CID. */
export function parseCar(bytes: Uint8Array, opts: { verify?: boolean } = {}): CarContents {
  const verify = opts.verify ?? true
  return guard('InvalidCar', 'malformed CAR', () => {
    const reader = Car.fromUint8Array(bytes)
    const roots = reader.roots.map((r: CidLink) => cidFromLink(r))
    const blocks = new Map<string, Uint8Array>()
    for (const entry of reader) {
      const cid = entry.cid
      if (cid.digest.codec !== 0x12) fail('InvalidCar', 'unsupported block hash')
      if (verify && !blockMatchesCid(cid, entry.bytes))
        fail('InvalidCar', `block ${cidToString(cid)} does not match its hash`)
      blocks.set(cidToString(cid), entry.bytes)
    }
    return { roots, blocks }
  })
}

export interface CarBlockBytes {
  /** 36 raw CID bytes. */
  cid: Uint8Array
  bytes: Uint8Array
}

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

function carHeader(roots: Cid[]): Uint8Array {
  // {roots: [links], version: 1}: DAG-CBOR by hand (keys sorted by length: "roots" < "version").
  const n = roots.length
  if (n > 23) fail('InvalidCar', 'too many roots')
  const body = new Uint8Array(1 + 6 + 1 + n * 41 + 8 + 1)
  let p = 0
  body[p++] = 0xa2
  body[p++] = 0x65
  for (const c of 'roots') body[p++] = c.charCodeAt(0)
  body[p++] = 0x80 | n
  for (const r of roots) {
    body.set([0xd8, 0x2a, 0x58, 0x25, 0x00], p)
    body.set(r.bytes, p + 5)
    p += 41
  }
  body[p++] = 0x67
  for (const c of 'version') body[p++] = c.charCodeAt(0)
  body[p++] = 0x01
  const out = new Uint8Array(varintLength(p) + p)
  const start = writeVarint(out, 0, p)
  out.set(body.subarray(0, p), start)
  return out
}

/**
 * Serialize a CAR as chunks of about `chunkSize` bytes: the header, then each
 * block (varint length, CID, bytes) in the order given.
 */
export function* carChunks(
  roots: Cid[],
  blocks: Iterable<CarBlockBytes>,
  chunkSize = 64 * 1024,
): Generator<Uint8Array> {
  let buf = new Uint8Array(chunkSize)
  let pos = 0
  const header = carHeader(roots)
  buf.set(header)
  pos = header.length
  for (const { cid, bytes } of blocks) {
    const len = cid.length + bytes.length
    const need = varintLength(len) + len
    if (pos + need > buf.length) {
      if (pos > 0) yield buf.subarray(0, pos)
      buf = new Uint8Array(Math.max(chunkSize, need))
      pos = 0
    }
    pos = writeVarint(buf, pos, len)
    buf.set(cid, pos)
    buf.set(bytes, pos + cid.length)
    pos += len
  }
  if (pos > 0) yield buf.subarray(0, pos)
}

/** A whole CAR in one buffer. */
export function carBytes(roots: Cid[], blocks: Iterable<CarBlockBytes>): Uint8Array {
  const parts = [...carChunks(roots, blocks)]
  if (parts.length === 1) return parts[0]!
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Collect a stream of CAR chunks into one buffer. */
export async function carToBytes(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk)
  return concat(parts)
}
