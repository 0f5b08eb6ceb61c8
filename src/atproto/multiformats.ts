/** Varints and multibase strings with typed errors, for decoders that take outside input. */
import { fromBase32, fromBase58Btc, fromBase64, fromBase64Url } from '@atcute/multibase'
import * as varint from '@atcute/varint'
import { fail, guard } from './errors.ts'

/** Decode an unsigned LEB128 varint at `offset`; returns the value and the offset after it. */
export function decodeVarint(bytes: Uint8Array, offset = 0): { value: number; next: number } {
  if (offset >= bytes.length) fail('InvalidVarint', 'unexpected end of input')
  const { value, nextOffset } = guard('InvalidVarint', 'malformed varint', () => varint.decode(bytes, offset))
  if (nextOffset > bytes.length) fail('InvalidVarint', 'unexpected end of input')
  return { value, next: nextOffset }
}

const decoders: Record<string, (s: string) => Uint8Array> = {
  b: fromBase32,
  z: fromBase58Btc,
  m: fromBase64,
  u: fromBase64Url,
}

/** Decode a multibase string (`b` base32, `z` base58btc, `m` base64, `u` base64url). */
export function decodeMultibase(input: string): Uint8Array {
  const decode = decoders[input.charAt(0)]
  if (!decode) fail('InvalidMultibase', `unsupported multibase prefix '${input.charAt(0)}'`)
  return guard('InvalidMultibase', 'malformed multibase', () => decode(input.slice(1)))
}
