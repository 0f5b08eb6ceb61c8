import { fail } from '../errors.ts'
import {
  blobInfo,
  bytesLength,
  checkData,
  invalid,
  isCidLink,
  isObject,
  isSpecialObject,
  type Obj,
} from './data.ts'
import { FORMAT_CHECKS, graphemeLength, utf8Length } from './formats.ts'
import type {
  LexArray,
  LexBlob,
  LexInteger,
  LexObject,
  LexParams,
  LexString,
  LexUnion,
  LexUserType,
  LexValueType,
} from './types.ts'

/** Looks up definitions for refs; `ref` may be relative (`#name`) to the doc `baseId`. */
export interface DefResolver {
  /** Returns the canonical uri (`nsid` for main, else `nsid#name`) and the def; throws if missing. */
  resolve(ref: string, baseId: string): { uri: string; id: string; def: LexUserType }
}

/** Canonical form of a ref: absolute, and `#main` dropped. */
export function canonicalRef(ref: string, baseId: string): string {
  const full = ref.startsWith('#') ? `${baseId}${ref}` : ref
  return full.endsWith('#main') ? full.slice(0, -5) : full
}

const show = (v: unknown) => JSON.stringify(v)

/** Validate `value` at `path` against `def`, which belongs to the document `docId`. */
export function validateValue(
  r: DefResolver,
  docId: string,
  def: LexValueType,
  value: unknown,
  path: string,
): void {
  switch (def.type) {
    case 'null':
      if (value !== null) invalid(path, 'must be null')
      return
    case 'boolean':
      if (typeof value !== 'boolean') invalid(path, 'must be a boolean')
      if (def.const !== undefined && value !== def.const) invalid(path, `must be ${def.const}`)
      return
    case 'integer':
      validateInteger(def, value, path)
      return
    case 'string':
      validateString(def, value, path)
      return
    case 'bytes': {
      const len = bytesLength(value)
      if (len === undefined) invalid(path, 'must be a byte array')
      if (def.minLength !== undefined && len < def.minLength)
        invalid(path, `must not be smaller than ${def.minLength} bytes`)
      if (def.maxLength !== undefined && len > def.maxLength)
        invalid(path, `must not be larger than ${def.maxLength} bytes`)
      return
    }
    case 'cid-link':
      if (!isCidLink(value)) invalid(path, 'must be a CID link')
      return
    case 'blob':
      validateBlob(def, value, path)
      return
    case 'unknown':
      if (!isObject(value) || isSpecialObject(value)) invalid(path, 'must be an object')
      checkData(value, path)
      return
    case 'array':
      validateArray(r, docId, def, value, path)
      return
    case 'object':
    case 'params':
      validateObject(r, docId, def, value, path)
      return
    case 'record':
      validateObject(r, docId, def.record, value, path)
      return
    case 'token':
      // A token is only meaningful as a string value naming it; handled by `ref`.
      invalid(path, 'cannot be validated against a token definition')
      return
    case 'ref':
      validateRef(r, docId, def.ref, value, path)
      return
    case 'union':
      validateUnion(r, docId, def, value, path)
      return
  }
}

function validateInteger(def: LexInteger, value: unknown, path: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) invalid(path, 'must be an integer')
  if (def.const !== undefined && value !== def.const) invalid(path, `must be ${def.const}`)
  if (def.enum && !def.enum.includes(value)) invalid(path, `must be one of (${def.enum.join('|')})`)
  if (def.minimum !== undefined && value < def.minimum) invalid(path, `can not be less than ${def.minimum}`)
  if (def.maximum !== undefined && value > def.maximum)
    invalid(path, `can not be greater than ${def.maximum}`)
}

function validateString(def: LexString, value: unknown, path: string): void {
  if (typeof value !== 'string') invalid(path, 'must be a string')
  if (def.const !== undefined && value !== def.const) invalid(path, `must be ${show(def.const)}`)
  if (def.enum && !def.enum.includes(value)) invalid(path, `must be one of (${def.enum.join('|')})`)
  // UTF-8 length is between 1x and 3x the UTF-16 length, so most checks need no counting.
  if (def.minLength !== undefined && value.length < def.minLength && utf8Length(value) < def.minLength) {
    invalid(path, `must not be shorter than ${def.minLength} bytes`)
  }
  if (def.maxLength !== undefined && value.length * 3 > def.maxLength && utf8Length(value) > def.maxLength) {
    invalid(path, `must not be longer than ${def.maxLength} bytes`)
  }
  if (
    def.minGraphemes !== undefined &&
    (value.length < def.minGraphemes || graphemeLength(value) < def.minGraphemes)
  ) {
    invalid(path, `must not be shorter than ${def.minGraphemes} graphemes`)
  }
  if (
    def.maxGraphemes !== undefined &&
    value.length > def.maxGraphemes &&
    graphemeLength(value) > def.maxGraphemes
  ) {
    invalid(path, `must not be longer than ${def.maxGraphemes} graphemes`)
  }
  if (def.format !== undefined && !FORMAT_CHECKS[def.format](value))
    invalid(path, `must be a valid ${def.format}`)
}

function mimeMatches(pattern: string, mimeType: string): boolean {
  if (pattern === '*/*') return true
  if (pattern.endsWith('/*')) return mimeType.startsWith(pattern.slice(0, -1))
  return pattern === mimeType
}

function validateBlob(def: LexBlob, value: unknown, path: string): void {
  const blob = blobInfo(value)
  if (!blob) invalid(path, 'must be a blob ref')
  if (def.accept && !def.accept.some((p) => mimeMatches(p, blob.mimeType))) {
    invalid(path, `mimeType must be one of (${def.accept.join('|')})`)
  }
  if (def.maxSize !== undefined && blob.size !== undefined && blob.size > def.maxSize) {
    invalid(path, `must not be larger than ${def.maxSize} bytes`)
  }
}

function validateArray(r: DefResolver, docId: string, def: LexArray, value: unknown, path: string): void {
  if (!Array.isArray(value)) invalid(path, 'must be an array')
  if (def.minLength !== undefined && value.length < def.minLength) {
    invalid(path, `must not have fewer than ${def.minLength} elements`)
  }
  if (def.maxLength !== undefined && value.length > def.maxLength) {
    invalid(path, `must not have more than ${def.maxLength} elements`)
  }
  for (let i = 0; i < value.length; i++) validateValue(r, docId, def.items, value[i], `${path}/${i}`)
}

function validateObject(
  r: DefResolver,
  docId: string,
  def: LexObject | LexParams,
  value: unknown,
  path: string,
) {
  if (!isObject(value) || isSpecialObject(value)) invalid(path, 'must be an object')
  const nullable = def.type === 'object' ? def.nullable : undefined
  for (const key of def.required ?? []) {
    if (value[key] === undefined) invalid(path, `must have the property "${key}"`)
  }
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue
    const prop = def.properties[key]
    if (!prop || !Object.hasOwn(def.properties, key)) checkData(v, `${path}/${key}`)
    else if (!(v === null && nullable?.includes(key))) validateValue(r, docId, prop, v, `${path}/${key}`)
  }
}

function validateRef(r: DefResolver, docId: string, ref: string, value: unknown, path: string): void {
  const target = r.resolve(ref, docId)
  const def = target.def
  if (def.type === 'token') {
    if (value !== target.uri) invalid(path, `must be ${show(target.uri)}`)
    return
  }
  if (
    def.type === 'query' ||
    def.type === 'procedure' ||
    def.type === 'subscription' ||
    def.type === 'permission-set'
  ) {
    fail('InvalidLexicon', `${ref} is a ${def.type} and cannot be used as a value type`)
  }
  validateValue(r, target.id, def, value, path)
}

function validateUnion(r: DefResolver, docId: string, def: LexUnion, value: unknown, path: string): void {
  if (!isObject(value) || isSpecialObject(value) || typeof value.$type !== 'string') {
    invalid(path, 'must be an object which includes the "$type" property')
  }
  const type = canonicalRef(value.$type, docId)
  const match = def.refs.find((ref) => canonicalRef(ref, docId) === type)
  if (match !== undefined) {
    validateRef(r, docId, match, value, path)
    return
  }
  if (def.closed) invalid(`${path}/$type`, `must be one of (${def.refs.join('|')})`)
  checkData(value as Obj, path)
}
