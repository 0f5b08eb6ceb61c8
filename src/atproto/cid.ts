/**
 * CIDv1 with sha-256, for the two codecs atproto uses: dag-cbor (records, MST
 * nodes, commits) and raw (blobs).
 */
import * as CID from '@atcute/cid'
import { fail, guard } from './errors.ts'

export type { Cid, CidLink } from '@atcute/cid'
export const CODEC_DAG_CBOR = CID.CODEC_DCBOR
export const CODEC_RAW = CID.CODEC_RAW

/** CID of DAG-CBOR encoded bytes. */
export function cidForCbor(bytes: Uint8Array): Promise<CID.Cid> {
  return CID.create(CID.CODEC_DCBOR, bytes)
}

/** CID of raw bytes (blobs). */
export function cidForRaw(bytes: Uint8Array): Promise<CID.Cid> {
  return CID.create(CID.CODEC_RAW, bytes)
}

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

export const cidToString = CID.toString
export const cidEquals = CID.equals
export const cidToLink = CID.toCidLink
export const cidFromLink = CID.fromCidLink
export const cidFromDigest = CID.fromDigest
export const isCidLink = CID.isCidLink

/** A CID link object (what decoded DAG-CBOR holds) from raw CID bytes, without re-parsing. */
export function linkFromBytes(bytes: Uint8Array): CID.CidLink {
  return new CID.CidLinkWrapper(bytes)
}

/** The raw CID bytes inside a CID link, whichever form it takes. */
export function linkBytes(link: CID.CidLink): Uint8Array {
  return link instanceof CID.CidLinkWrapper ? link.bytes : CID.fromString(link.$link).bytes
}
