/**
 * MST keys: `collection/rkey` strings of restricted ASCII, and their heights
 * (leading zero bits of sha-256(key), counted in 2-bit chunks: fanout 4).
 */
import { fail } from '../errors.ts'
import { sha256Into } from '../sha256.ts'

export const MAX_MST_KEY_LENGTH = 1024

const digest = new Uint8Array(32)
let keyBuf = new Uint8Array(256)

/** Bytes of an ASCII key (caller validated it, or it came from a decoded node). */
export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i)
  return out
}

/** Leading zeros of sha-256(key) in 2-bit chunks: the key's layer in the tree. */
export function leadingZerosOnHash(key: string | Uint8Array): number {
  let bytes: Uint8Array
  if (typeof key === 'string') {
    // Keys are ASCII; hash the char codes without allocating per call. Non-ASCII
    // (only possible for invalid keys) goes through UTF-8 like the reference does.
    let ascii = true
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) ascii = false
    if (!ascii) bytes = new TextEncoder().encode(key)
    else {
      if (keyBuf.length < key.length) keyBuf = new Uint8Array(key.length * 2)
      for (let i = 0; i < key.length; i++) keyBuf[i] = key.charCodeAt(i)
      bytes = keyBuf.subarray(0, key.length)
    }
  } else bytes = key
  sha256Into(bytes, digest)
  let zeros = 0
  for (let i = 0; i < 32; i++) {
    const b = digest[i]!
    if (b === 0) {
      zeros += 4
      continue
    }
    if (b < 4) zeros += 3
    else if (b < 16) zeros += 2
    else if (b < 64) zeros += 1
    break
  }
  return zeros
}

/** Alias: a key's height is its layer in the tree. */
export const keyHeight = leadingZerosOnHash

/** Length of the common prefix of two strings (code units; keys are ASCII so these are bytes). */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

function isKeyChar(c: number): boolean {
  // [a-zA-Z0-9_~\-:.]
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x7e ||
    c === 0x2d ||
    c === 0x3a ||
    c === 0x2e
  )
}

/** `collection/rkey`: exactly one slash, both parts non-empty, allowed chars only, ≤ 1024 bytes. */
export function isValidMstKey(key: string): boolean {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_MST_KEY_LENGTH) return false
  let slash = -1
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c === 0x2f) {
      if (slash !== -1) return false
      slash = i
    } else if (!isKeyChar(c)) return false
  }
  return slash > 0 && slash < key.length - 1
}

export function assertValidMstKey(key: string): void {
  if (!isValidMstKey(key))
    fail('InvalidMst', `not a valid MST key: ${JSON.stringify(String(key).slice(0, 80))}`)
}
