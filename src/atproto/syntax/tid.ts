import { fail } from '../errors.ts'
import { preview } from './did.ts'

/** base32-sortable alphabet: ASCII order matches numeric order. */
const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz'
const TID_RE = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/

/** Largest timestamp formatTid accepts (53 bits, also Number.MAX_SAFE_INTEGER). */
export const MAX_TID_TIMESTAMP = 2 ** 53 - 1
export const MAX_TID_CLOCK_ID = 1023

export interface ParsedTid {
  /** Microseconds since the Unix epoch (lossy only for out-of-spec TIDs with the top bit set). */
  timestampUs: number
  /** 10-bit clock identifier, 0-1023. */
  clockId: number
}

/** 13 base32-sortable chars; the first char keeps the 64-bit value's top bit clear. */
export function isTid(s: string): boolean {
  return typeof s === 'string' && TID_RE.test(s)
}

export function assertTid(s: unknown): asserts s is string {
  if (!isTid(s as string)) fail('InvalidSyntax', `Invalid TID: ${preview(s)}`)
}

function decode(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) n = n * 32 + ALPHABET.indexOf(s[i]!)
  return n
}

function encode(n: number, width: number): string {
  let out = ''
  for (let i = 0; i < width; i++) {
    out = ALPHABET[n % 32]! + out
    n = Math.floor(n / 32)
  }
  return out
}

/** Split a TID into its timestamp (first 11 chars) and clock id (last 2 chars = 10 bits). */
export function parseTid(s: string): ParsedTid {
  assertTid(s)
  return { timestampUs: decode(s.slice(0, 11)), clockId: decode(s.slice(11)) }
}

export function formatTid(timestampUs: number, clockId: number): string {
  if (!Number.isSafeInteger(timestampUs) || timestampUs < 0) {
    fail('InvalidSyntax', `TID timestamp out of range: ${timestampUs}`)
  }
  if (!Number.isInteger(clockId) || clockId < 0 || clockId > MAX_TID_CLOCK_ID) {
    fail('InvalidSyntax', `TID clock id out of range: ${clockId}`)
  }
  return encode(timestampUs, 11) + encode(clockId, 2)
}
