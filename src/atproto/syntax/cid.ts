// Loose CID string syntax, as the atproto spec asks for the `cid` string format: a multibase
// CIDv1 string of plausible length. Legacy CIDv0 (`Qm…`) is rejected. Decoding is left to @atcute/cid.
const CID_RE = /^[a-zA-Z0-9+=]{8,256}$/

export function isCidString(s: string): boolean {
  return typeof s === 'string' && CID_RE.test(s) && !s.startsWith('Qm')
}
