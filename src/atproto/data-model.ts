/**
 * atproto's data model rules on top of plain JSON-like values: integers only
 * (no floats), `$link` / `$bytes` objects with nothing else in them, blobs with
 * their required fields, and `$type` as a non-empty string.
 */
import { fromBase64 } from '@atcute/multibase'
import { isCidLink, parseCid } from './cid.ts'
import { AtprotoError, fail } from './errors.ts'

const MAX_DEPTH = 128

/** Throws AtprotoError('InvalidRecord') when `value` is outside the data model. */
export function assertDataModel(value: unknown, path = '$', depth = 0): void {
  if (depth > MAX_DEPTH) fail('InvalidRecord', `${path}: nested too deeply`)
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isSafeInteger(value)) fail('InvalidRecord', `${path}: numbers must be safe integers`)
      return
    case 'object':
      break
    default:
      fail('InvalidRecord', `${path}: unsupported type ${typeof value}`)
  }
  if (value === null || value instanceof Uint8Array) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertDataModel(value[i], `${path}[${i}]`, depth + 1)
    return
  }
  const obj = value as Record<string, unknown>
  if ('$link' in obj) {
    assertLink(obj, path)
    return
  }
  if ('$bytes' in obj) {
    assertBytes(obj, path)
    return
  }
  if ('$type' in obj) {
    const type = obj.$type
    if (typeof type !== 'string' || type.length === 0)
      fail('InvalidRecord', `${path}.$type must be a non-empty string`)
    if (type === 'blob') assertBlob(obj, path)
  }
  for (const key of Object.keys(obj)) assertDataModel(obj[key], `${path}.${key}`, depth + 1)
}

/** A record is a data-model object at the top level. */
export function assertRecordValue(value: unknown): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || isCidLink(value))
    fail('InvalidRecord', 'a record must be an object')
  assertDataModel(value)
}

function assertLink(obj: Record<string, unknown>, path: string): void {
  // A decoded CidLinkWrapper exposes $link as a getter over valid bytes.
  if (Object.keys(obj).length > 1) fail('InvalidRecord', `${path}: $link object has extra fields`)
  if (typeof obj.$link !== 'string') fail('InvalidRecord', `${path}.$link must be a string`)
  try {
    parseCid(obj.$link)
  } catch (err) {
    fail('InvalidRecord', `${path}.$link: ${err instanceof AtprotoError ? err.message : 'invalid CID'}`)
  }
}

function assertBytes(obj: Record<string, unknown>, path: string): void {
  if (Object.keys(obj).length > 1) fail('InvalidRecord', `${path}: $bytes object has extra fields`)
  if (typeof obj.$bytes !== 'string') fail('InvalidRecord', `${path}.$bytes must be a base64 string`)
  try {
    fromBase64(obj.$bytes)
  } catch {
    fail('InvalidRecord', `${path}.$bytes is not valid base64`)
  }
}

function assertBlob(obj: Record<string, unknown>, path: string): void {
  if (!isCidLink(obj.ref)) fail('InvalidRecord', `${path}.ref must be a CID link`)
  if (typeof obj.mimeType !== 'string' || obj.mimeType.length === 0)
    fail('InvalidRecord', `${path}.mimeType must be a string`)
  if (!Number.isSafeInteger(obj.size) || (obj.size as number) < 0)
    fail('InvalidRecord', `${path}.size must be a non-negative integer`)
}
