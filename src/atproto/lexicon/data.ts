import { fail } from '../errors.ts'
import { isCidString } from '../syntax/index.ts'

/**
 * atproto data model checks on values in their JSON form as decoded by @atcute/cbor: links are
 * `{$link}` (or an object with a `$link` getter, e.g. CidLinkWrapper), bytes are `{$bytes}`
 * (or BytesWrapper / Uint8Array), blobs are `{$type: 'blob', ref, mimeType, size}`.
 */

export type Obj = Record<string, unknown>

const MAX_DEPTH = 256
const BASE64_RE = /^[A-Za-z0-9+/]*$/

export function invalid(path: string, msg: string): never {
  return fail('InvalidRecord', `${path} ${msg}`)
}

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** A plain JSON-style object (not a class instance such as a wrapper). */
function isPlain(v: Obj): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Plain objects must carry only the marker key; wrapper classes just expose it. */
function hasOnly(v: Obj, key: string): boolean {
  if (!isPlain(v)) return true
  const keys = Object.keys(v)
  return keys.length === 1 && keys[0] === key
}

export function isCidLink(v: unknown): boolean {
  return (
    isObject(v) && '$link' in v && typeof v.$link === 'string' && hasOnly(v, '$link') && isCidString(v.$link)
  )
}

/** Byte length of a bytes value, or undefined if `v` is not bytes. */
export function bytesLength(v: unknown): number | undefined {
  if (v instanceof Uint8Array) return v.length
  if (!isObject(v) || !('$bytes' in v)) return undefined
  const buf = (v as { buf?: unknown }).buf
  if (!isPlain(v) && buf instanceof Uint8Array) return buf.length
  const b64 = v.$bytes
  if (typeof b64 !== 'string' || !hasOnly(v, '$bytes')) return undefined
  const unpadded = b64.replace(/={1,2}$/, '')
  if (!BASE64_RE.test(unpadded) || unpadded.length % 4 === 1) return undefined
  if (unpadded.length !== b64.length && b64.length % 4 !== 0) return undefined
  return Math.floor((unpadded.length * 3) / 4)
}

export interface BlobInfo {
  mimeType: string
  /** Absent for legacy `{cid, mimeType}` blob refs. */
  size?: number
}

/** Blob ref shape, or undefined. Accepts the legacy `{cid, mimeType}` form (read-only in the spec). */
export function blobInfo(v: unknown): BlobInfo | undefined {
  if (!isObject(v)) return undefined
  const { mimeType } = v
  if (typeof mimeType !== 'string' || !mimeType.includes('/')) return undefined
  if (v.$type === 'blob') {
    const { size } = v
    if (!isCidLink(v.ref) || !Number.isSafeInteger(size) || (size as number) < 0) return undefined
    return { mimeType, size: size as number }
  }
  const keys = Object.keys(v)
  if (keys.length === 2 && typeof v.cid === 'string' && isCidString(v.cid)) return { mimeType }
  return undefined
}

/** Is `v` one of the data model's special objects (link, bytes, blob) rather than a map? */
export function isSpecialObject(v: Obj): boolean {
  return '$link' in v || '$bytes' in v || v.$type === 'blob'
}

/** Check that `v` is a valid data model value: no floats, no undefined in arrays, valid specials. */
export function checkData(v: unknown, path: string, depth = 0): void {
  if (depth > MAX_DEPTH) invalid(path, 'is nested too deeply')
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isSafeInteger(v)) invalid(path, 'must be an integer (floats are not allowed)')
      return
    case 'object':
      break
    default:
      invalid(path, `has an unsupported type (${typeof v})`)
  }
  if (v === null || v instanceof Uint8Array) return
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (v[i] === undefined) invalid(`${path}/${i}`, 'must not be undefined')
      checkData(v[i], `${path}/${i}`, depth + 1)
    }
    return
  }
  const o = v as Obj
  if ('$link' in o) {
    if (!isCidLink(o)) invalid(path, 'must be a valid cid-link')
    return
  }
  if ('$bytes' in o) {
    if (bytesLength(o) === undefined) invalid(path, 'must be valid bytes')
    return
  }
  if (o.$type !== undefined && (typeof o.$type !== 'string' || o.$type === '')) {
    invalid(`${path}/$type`, 'must be a non-empty string')
  }
  if (o.$type === 'blob') {
    if (!blobInfo(o)) invalid(path, 'must be a valid blob')
    return
  }
  if (!isPlain(o)) invalid(path, 'must be a plain object')
  for (const [k, x] of Object.entries(o)) if (x !== undefined) checkData(x, `${path}/${k}`, depth + 1)
}
