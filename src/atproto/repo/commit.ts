/**
 * Repo commits (version 3): `{did, version: 3, data, rev, prev: null, sig}`.
 * The signature covers the DAG-CBOR encoding of the commit without `sig`.
 */
import { BytesWrapper, CidLinkWrapper } from '@atcute/cbor'
import { decodeCbor, encodeCborTrusted } from '../cbor.ts'
import { type Cid, cidForCbor, decodeCid } from '../cid.ts'
import { fail } from '../errors.ts'
import { type Keypair, verifySignature } from '../keys.ts'
import { allocBytes } from '../mst/alloc.ts'
import { isDid, isTid } from '../syntax/index.ts'

export interface UnsignedCommit {
  did: string
  version: 3
  /** Root of the MST. */
  data: Cid
  /** TID, strictly increasing per repo. */
  rev: string
  /** Always null for new commits; older v3 commits may carry a link. */
  prev: Cid | null
}

export interface SignedCommit extends UnsignedCommit {
  sig: Uint8Array
}

// Commits are encoded by hand (they are small and fixed-shape): DAG-CBOR map keys
// sorted by length, then bytes: did, rev, sig, data, prev, version.
function textSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

function writeHead(buf: Uint8Array, pos: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) buf[pos++] = m | n
  else if (n < 0x100) {
    buf[pos++] = m | 24
    buf[pos++] = n
  } else if (n < 0x10000) {
    buf[pos++] = m | 25
    buf[pos++] = n >>> 8
    buf[pos++] = n
  } else {
    buf[pos++] = m | 26
    buf[pos++] = n >>> 24
    buf[pos++] = n >>> 16
    buf[pos++] = n >>> 8
    buf[pos++] = n
  }
  return pos
}

function writeAscii(buf: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i)
  return pos
}

function writeText(buf: Uint8Array, pos: number, s: string): number {
  return writeAscii(buf, writeHead(buf, pos, 3, s.length), s)
}

function writeLink(buf: Uint8Array, pos: number, cid: Cid): number {
  pos = writeHead(buf, pos, 6, 42)
  pos = writeHead(buf, pos, 2, cid.bytes.length + 1)
  buf[pos++] = 0
  buf.set(cid.bytes, pos)
  return pos + cid.bytes.length
}

function linkSize(cid: Cid): number {
  return 2 + textSize(cid.bytes.length + 1) + 1 + cid.bytes.length
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** Byte offset of the signature in the last `encode` output (when it had one). */
let sigOffset = 0

function encode(c: UnsignedCommit, sig: Uint8Array | null): Uint8Array {
  // DIDs and TIDs are ASCII by syntax; anything else takes the generic encoder.
  if (!isAscii(c.did) || !isAscii(c.rev)) return encodeCborTrusted(toModel(c, sig))
  const size =
    1 +
    4 +
    textSize(c.did.length) +
    c.did.length +
    4 +
    textSize(c.rev.length) +
    c.rev.length +
    (sig ? 4 + textSize(sig.length) + sig.length : 0) +
    5 +
    linkSize(c.data) +
    5 +
    (c.prev ? linkSize(c.prev) : 1) +
    8 +
    1
  const buf = allocBytes(size)
  let pos = writeHead(buf, 0, 5, sig ? 6 : 5)
  pos = writeText(buf, pos, 'did')
  pos = writeText(buf, pos, c.did)
  pos = writeText(buf, pos, 'rev')
  pos = writeText(buf, pos, c.rev)
  if (sig) {
    pos = writeText(buf, pos, 'sig')
    pos = writeHead(buf, pos, 2, sig.length)
    sigOffset = pos
    buf.set(sig, pos)
    pos += sig.length
  }
  pos = writeText(buf, pos, 'data')
  pos = writeLink(buf, pos, c.data)
  pos = writeText(buf, pos, 'prev')
  if (c.prev) pos = writeLink(buf, pos, c.prev)
  else buf[pos++] = 0xf6
  pos = writeText(buf, pos, 'version')
  buf[pos++] = c.version
  if (pos !== size) fail('InvalidCommit', 'commit encoding size mismatch')
  return buf
}

function toModel(c: UnsignedCommit, sig: Uint8Array | null): Record<string, unknown> {
  const out: Record<string, unknown> = {
    did: c.did,
    version: c.version,
    data: new CidLinkWrapper(c.data.bytes),
    rev: c.rev,
    prev: c.prev === null ? null : new CidLinkWrapper(c.prev.bytes),
  }
  if (sig) out.sig = new BytesWrapper(sig)
  return out
}

/** DAG-CBOR of the unsigned commit: the bytes that get signed. */
export function encodeUnsignedCommit(c: UnsignedCommit): Uint8Array {
  return encode(c, null)
}

export function encodeCommit(c: SignedCommit): Uint8Array {
  return encode(c, c.sig)
}

const SIG_PLACEHOLDER = new Uint8Array(64)

/**
 * Encode a commit before its (64-byte) signature exists, so the encoding can
 * happen while signing runs; `fill` then writes the signature in.
 */
export function prepareCommit(c: UnsignedCommit): { fill(sig: Uint8Array): Uint8Array } {
  const bytes = encode(c, SIG_PLACEHOLDER)
  const offset = sigOffset
  const ascii = isAscii(c.did) && isAscii(c.rev)
  return {
    fill(sig) {
      if (sig.length !== 64 || !ascii) return encode(c, sig)
      bytes.set(sig, offset)
      return bytes
    },
  }
}

/** The generic (@atcute/cbor) encoding, for cross-checking the hand-written one. */
export function encodeCommitGeneric(c: UnsignedCommit & { sig?: Uint8Array }): Uint8Array {
  return encodeCborTrusted(toModel(c, c.sig ?? null))
}

function linkCid(value: unknown, what: string): Cid {
  if (!(value instanceof CidLinkWrapper)) fail('InvalidCommit', `commit ${what} must be a CID link`)
  return decodeCid(value.bytes)
}

/** Decode and shape-check a signed commit block. */
export function decodeCommit(bytes: Uint8Array): SignedCommit {
  const obj = decodeCbor<Record<string, unknown>>(bytes)
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    fail('InvalidCommit', 'commit must be a map')
  if (obj.version !== 3) fail('InvalidCommit', `unsupported commit version ${String(obj.version)}`)
  if (typeof obj.did !== 'string' || !isDid(obj.did)) fail('InvalidCommit', 'commit did is not a DID')
  if (typeof obj.rev !== 'string' || !isTid(obj.rev)) fail('InvalidCommit', 'commit rev is not a TID')
  if (!(obj.sig instanceof BytesWrapper)) fail('InvalidCommit', 'commit sig must be bytes')
  for (const key of Object.keys(obj))
    if (!['did', 'version', 'data', 'rev', 'prev', 'sig'].includes(key))
      fail('InvalidCommit', `unexpected commit field ${key}`)
  return {
    did: obj.did,
    version: 3,
    data: linkCid(obj.data, 'data'),
    rev: obj.rev,
    prev: obj.prev === null || obj.prev === undefined ? null : linkCid(obj.prev, 'prev'),
    sig: obj.sig.buf,
  }
}

/** Sign an unsigned commit. */
export async function signCommit(unsigned: UnsignedCommit, keypair: Keypair): Promise<SignedCommit> {
  const sig = await keypair.sign(encodeUnsignedCommit(unsigned))
  return { ...unsigned, sig }
}

/** Does the commit's signature verify against `didKey` (a did:key or parsed public key)? */
export async function verifyCommitSig(
  commit: SignedCommit,
  didKey: Parameters<typeof verifySignature>[0],
): Promise<boolean> {
  const { sig, ...unsigned } = commit
  return verifySignature(didKey, encodeUnsignedCommit(unsigned), sig)
}

/**
 * Decode a commit block and check its signature; throws InvalidSignature when
 * it does not verify, InvalidCommit when malformed or for another DID.
 */
export async function verifyCommit(
  commitBytes: Uint8Array,
  didKey: Parameters<typeof verifySignature>[0],
  did?: string,
): Promise<SignedCommit> {
  const commit = decodeCommit(commitBytes)
  if (did !== undefined && commit.did !== did)
    fail('InvalidCommit', `commit is for ${commit.did}, expected ${did}`)
  if (!(await verifyCommitSig(commit, didKey))) fail('InvalidSignature', 'commit signature does not verify')
  return commit
}

/** CID of a commit block. */
export function commitCid(bytes: Uint8Array): Cid {
  return cidForCbor(bytes)
}
