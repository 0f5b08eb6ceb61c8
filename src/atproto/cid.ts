/**
 * CIDv1 with sha-256, for the two codecs atproto uses: dag-cbor (records, MST
 * nodes, commits) and raw (blobs).
 */
import * as CID from '@atcute/cid'
import { toBase32 } from '@atcute/multibase'
import { fail, guard } from './errors.ts'
import { sha256Into } from './sha256.ts'

type Cid = CID.Cid

export type { Cid, CidLink } from '@atcute/cid'
export const CODEC_DAG_CBOR = CID.CODEC_DCBOR
export const CODEC_RAW = CID.CODEC_RAW

/** Parse a base32 CIDv1 string; only the sha-256 dag-cbor/raw CIDs atproto uses are accepted. */
export function parseCid(input: string): CID.Cid {
  const cid = guard('InvalidCid', 'invalid CID', () => CID.fromString(input))
  return checkCid(cid)
}

/** Decode a binary CID (no multibase prefix). */
export function decodeCid(bytes: Uint8Array): CID.Cid {
  return checkCid(guard('InvalidCid', 'invalid CID bytes', () => CID.decode(bytes)))
}

function checkCid(cid: CID.Cid): CID.Cid {
  if (cid.version !== 1) fail('InvalidCid', `unsupported CID version ${cid.version}`)
  if (cid.codec !== CID.CODEC_DCBOR && cid.codec !== CID.CODEC_RAW)
    fail('InvalidCid', `unsupported CID codec 0x${cid.codec.toString(16)}`)
  if (cid.digest.codec !== CID.HASH_SHA256) fail('InvalidCid', 'unsupported CID hash')
  return cid
}

export const cidToLink = CID.toCidLink
export const cidFromLink = CID.fromCidLink
export const isCidLink = CID.isCidLink

/**
 * A CID over its 36 raw bytes, with the digest view made on demand: the MST
 * holds one per record, so one object per CID instead of three matters.
 */
class Cid36 implements Cid {
  readonly version = 1
  readonly codec: number
  readonly bytes: Uint8Array
  /** base32 string, once asked for (see `cidToString`). */
  str: string | null = null
  constructor(bytes: Uint8Array) {
    this.codec = bytes[1]!
    this.bytes = bytes
  }
  get digest(): { codec: number; contents: Uint8Array } {
    return { codec: 0x12, contents: this.bytes.subarray(4, 36) }
  }
}

function cidFromHash(codec: number, bytes: Uint8Array): Cid {
  const buf = new Uint8Array(36)
  buf[0] = 1
  buf[1] = codec
  buf[2] = 0x12
  buf[3] = 32
  sha256Into(bytes, buf, 4)
  return new Cid36(buf)
}

/** CID (dag-cbor, sha-256) of encoded bytes, computed synchronously. */
export function cidForCbor(bytes: Uint8Array): Cid {
  return cidFromHash(CODEC_DAG_CBOR, bytes)
}

/** CID (raw, sha-256) of bytes, computed synchronously. */
export function cidForRaw(bytes: Uint8Array): Cid {
  return cidFromHash(CODEC_RAW, bytes)
}

/** Does `bytes` hash to `cid` (sha-256, any codec)? */
export function blockMatchesCid(cid: Cid, bytes: Uint8Array): boolean {
  const digest = new Uint8Array(32)
  sha256Into(bytes, digest)
  const want = cid.bytes
  if (want.length !== 36 || want[2] !== 0x12 || want[3] !== 32) return false
  for (let i = 0; i < 32; i++) if (digest[i] !== want[i + 4]) return false
  return true
}

/** A CID object viewing existing 36 CID bytes (no validation beyond the header). */
export function cidFromBytes36(bytes: Uint8Array): Cid {
  return new Cid36(bytes)
}

/** base32 string of a CID (what stores key blocks by). */
export function cidToString(cid: Cid): string {
  if (cid instanceof Cid36) {
    if (cid.str === null) cid.str = base32Cid(cid.bytes)
    return cid.str
  }
  return base32Cid(cid.bytes)
}

const B32 = new TextEncoder().encode('abcdefghijklmnopqrstuvwxyz234567')
const b32Scratch = new Uint8Array(59)
const ascii = new TextDecoder()

/**
 * `b` + base32 of 36 CID bytes as one flat string, built in a scratch buffer:
 * one allocation, where joining pieces makes several (and a rope that each Map
 * lookup flattens again).
 */
function base32Cid(bytes: Uint8Array): string {
  if (bytes.length !== 36) return `b${toBase32(bytes)}`
  const out = b32Scratch
  out[0] = 0x62 // "b"
  let o = 1
  let buffer = 0
  let bits = 0
  for (let i = 0; i < 36; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[o++] = B32[(buffer >>> bits) & 31]!
    }
  }
  out[o] = B32[(buffer << (5 - bits)) & 31]!
  return ascii.decode(out)
}

/** Accept a CID as an object or a string. */
export function asCid(cid: Cid | string): Cid {
  return typeof cid === 'string' ? parseCid(cid) : cid
}
