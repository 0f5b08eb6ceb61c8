import { fail } from '../errors.ts'
import { isLanguage, isNsid, isRecordKey } from '../syntax/index.ts'
import { STRING_FORMATS } from './formats.ts'
import type { LexiconDoc } from './types.ts'

/**
 * Structural validation of a Lexicon document. Unknown keys are ignored (forward compatibility);
 * known keys must have the right shape. Refs are checked syntactically, not resolved.
 */

type Obj = Record<string, unknown>

const DEF_NAME_RE = /^[a-zA-Z][a-zA-Z0-9_-]*$/
const PRIMARY = new Set(['record', 'query', 'procedure', 'subscription', 'permission-set'])
const TOP_LEVEL = new Set([
  ...PRIMARY,
  'token',
  'object',
  'array',
  'boolean',
  'integer',
  'string',
  'bytes',
  'cid-link',
  'blob',
])
const ITEM_TYPES = new Set([
  'null',
  'boolean',
  'integer',
  'string',
  'unknown',
  'bytes',
  'cid-link',
  'blob',
  'ref',
  'union',
  'object',
])
const PROPERTY_TYPES = new Set([...ITEM_TYPES, 'array'])
const PARAM_TYPES = new Set(['boolean', 'integer', 'string', 'unknown', 'array'])
const PARAM_ITEM_TYPES = new Set(['boolean', 'integer', 'string', 'unknown'])

function bad(path: string, msg: string): never {
  return fail('InvalidLexicon', `${path} ${msg}`)
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function obj(v: unknown, path: string): Obj {
  return isObj(v) ? v : bad(path, 'must be an object')
}

function opt(o: Obj, key: string, path: string, kind: 'string' | 'boolean' | 'integer' | 'count'): void {
  const v = o[key]
  if (v === undefined) return
  const ok =
    kind === 'integer'
      ? Number.isSafeInteger(v)
      : kind === 'count'
        ? Number.isSafeInteger(v) && (v as number) >= 0
        : typeof v === kind
  if (!ok) bad(`${path}.${key}`, `must be ${kind === 'count' ? 'a non-negative integer' : `a ${kind}`}`)
}

function optArray(o: Obj, key: string, path: string, kind: 'string' | 'integer'): unknown[] | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  const ok = kind === 'integer' ? Number.isSafeInteger : (x: unknown) => typeof x === 'string'
  if (!Array.isArray(v) || !v.every(ok)) bad(`${path}.${key}`, `must be an array of ${kind}s`)
  return v
}

function range(o: Obj, min: string, max: string, path: string): void {
  const lo = o[min] as number | undefined
  const hi = o[max] as number | undefined
  if (lo !== undefined && hi !== undefined && lo > hi) bad(path, `has ${min} greater than ${max}`)
}

/** `#name`, `nsid` or `nsid#name`. */
export function isRefString(ref: string): boolean {
  const hash = ref.indexOf('#')
  if (hash === -1) return isNsid(ref)
  const nsid = ref.slice(0, hash)
  return (nsid === '' || isNsid(nsid)) && DEF_NAME_RE.test(ref.slice(hash + 1))
}

/** `tid`, `nsid`, `any` or `literal:<record key>`. */
export function isRecordKeyType(key: unknown): boolean {
  if (key === 'tid' || key === 'nsid' || key === 'any') return true
  return typeof key === 'string' && key.startsWith('literal:') && isRecordKey(key.slice(8))
}

function checkField(def: unknown, path: string, allowed: Set<string>): void {
  const d = obj(def, path)
  const type = d.type
  if (typeof type !== 'string') bad(`${path}.type`, 'must be a string')
  if (!allowed.has(type))
    bad(`${path}.type`, `"${type}" is not allowed here (expected ${[...allowed].join(', ')})`)
  opt(d, 'description', path, 'string')
  switch (type) {
    case 'boolean':
      opt(d, 'default', path, 'boolean')
      opt(d, 'const', path, 'boolean')
      return
    case 'integer':
      for (const k of ['default', 'const', 'minimum', 'maximum']) opt(d, k, path, 'integer')
      optArray(d, 'enum', path, 'integer')
      range(d, 'minimum', 'maximum', path)
      return
    case 'string':
      if (d.format !== undefined && !STRING_FORMATS.has(d.format as string)) {
        bad(`${path}.format`, `"${String(d.format)}" is not a known string format`)
      }
      opt(d, 'default', path, 'string')
      opt(d, 'const', path, 'string')
      for (const k of ['minLength', 'maxLength', 'minGraphemes', 'maxGraphemes']) opt(d, k, path, 'count')
      optArray(d, 'enum', path, 'string')
      optArray(d, 'knownValues', path, 'string')
      range(d, 'minLength', 'maxLength', path)
      range(d, 'minGraphemes', 'maxGraphemes', path)
      return
    case 'bytes':
      opt(d, 'minLength', path, 'count')
      opt(d, 'maxLength', path, 'count')
      range(d, 'minLength', 'maxLength', path)
      return
    case 'blob':
      opt(d, 'maxSize', path, 'count')
      for (const a of optArray(d, 'accept', path, 'string') ?? []) {
        if (!(a as string).includes('/')) bad(`${path}.accept`, `has an invalid MIME type pattern "${a}"`)
      }
      return
    case 'array':
      opt(d, 'minLength', path, 'count')
      opt(d, 'maxLength', path, 'count')
      range(d, 'minLength', 'maxLength', path)
      if (d.items === undefined) bad(path, 'must have items')
      checkField(d.items, `${path}.items`, allowed === PARAM_TYPES ? PARAM_ITEM_TYPES : ITEM_TYPES)
      return
    case 'object':
      checkProperties(d, path, PROPERTY_TYPES, true)
      return
    case 'params':
      checkProperties(d, path, PARAM_TYPES, false)
      return
    case 'ref':
      if (typeof d.ref !== 'string' || !isRefString(d.ref)) bad(`${path}.ref`, 'must be a valid reference')
      return
    case 'union':
      opt(d, 'closed', path, 'boolean')
      if (!Array.isArray(d.refs)) bad(`${path}.refs`, 'must be an array')
      for (const r of d.refs) {
        if (typeof r !== 'string' || !isRefString(r))
          bad(`${path}.refs`, `has an invalid reference ${JSON.stringify(r)}`)
      }
      return
    case 'record':
      if (!isRecordKeyType(d.key))
        bad(`${path}.key`, 'must be "tid", "nsid", "any" or "literal:<record-key>"')
      if (d.record === undefined) bad(path, 'must have a record schema')
      checkField(d.record, `${path}.record`, new Set(['object']))
      return
    case 'query':
    case 'procedure':
    case 'subscription':
      checkXrpc(d, type, path)
      return
    case 'permission-set':
      checkPermissionSet(d, path)
      return
  }
}

function checkProperties(d: Obj, path: string, allowed: Set<string>, withNullable: boolean): void {
  const props = obj(d.properties, `${path}.properties`)
  for (const [name, prop] of Object.entries(props)) checkField(prop, `${path}.properties.${name}`, allowed)
  for (const r of optArray(d, 'required', path, 'string') ?? []) {
    if (!Object.hasOwn(props, r as string)) bad(`${path}.required`, `names undefined property "${r}"`)
  }
  if (withNullable) optArray(d, 'nullable', path, 'string')
}

const BODY_SCHEMA = new Set(['object', 'ref', 'union'])

function checkBody(v: unknown, path: string): void {
  const b = obj(v, path)
  opt(b, 'description', path, 'string')
  if (typeof b.encoding !== 'string' || b.encoding === '') bad(`${path}.encoding`, 'must be a MIME type')
  if (b.schema !== undefined) checkField(b.schema, `${path}.schema`, BODY_SCHEMA)
}

function checkXrpc(d: Obj, type: string, path: string): void {
  if (d.parameters !== undefined) checkField(d.parameters, `${path}.parameters`, new Set(['params']))
  if (type === 'procedure' && d.input !== undefined) checkBody(d.input, `${path}.input`)
  if (type !== 'subscription' && d.output !== undefined) checkBody(d.output, `${path}.output`)
  if (type === 'subscription' && d.message !== undefined) {
    const m = obj(d.message, `${path}.message`)
    opt(m, 'description', `${path}.message`, 'string')
    checkField(m.schema, `${path}.message.schema`, BODY_SCHEMA)
  }
  if (d.errors === undefined) return
  if (!Array.isArray(d.errors)) bad(`${path}.errors`, 'must be an array')
  d.errors.forEach((e, i) => {
    const err = obj(e, `${path}.errors[${i}]`)
    if (typeof err.name !== 'string' || err.name === '') bad(`${path}.errors[${i}].name`, 'must be a string')
    opt(err, 'description', `${path}.errors[${i}]`, 'string')
  })
}

function isOptionValue(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || Number.isSafeInteger(v)
}

function checkPermissionSet(d: Obj, path: string): void {
  opt(d, 'title', path, 'string')
  opt(d, 'detail', path, 'string')
  for (const key of ['title:lang', 'detail:lang']) {
    if (d[key] === undefined) continue
    for (const [lang, text] of Object.entries(obj(d[key], `${path}.${key}`))) {
      if (!isLanguage(lang)) bad(`${path}.${key}`, `has an invalid language tag "${lang}"`)
      if (typeof text !== 'string') bad(`${path}.${key}.${lang}`, 'must be a string')
    }
  }
  if (!Array.isArray(d.permissions)) bad(`${path}.permissions`, 'must be an array')
  d.permissions.forEach((p, i) => {
    const at = `${path}.permissions[${i}]`
    const perm = obj(p, at)
    if (perm.type !== 'permission') bad(`${at}.type`, 'must be "permission"')
    if (typeof perm.resource !== 'string' || perm.resource === '') bad(`${at}.resource`, 'must be a string')
    for (const [k, v] of Object.entries(perm)) {
      if (!(isOptionValue(v) || (Array.isArray(v) && v.every(isOptionValue)))) {
        bad(`${at}.${k}`, 'must be a string, integer, boolean or an array of those')
      }
    }
  })
}

/** Validate a Lexicon document; throws AtprotoError('InvalidLexicon') naming the offending path. */
export function parseLexiconDoc(json: unknown): LexiconDoc {
  const doc = obj(json, 'lexicon document')
  if (doc.lexicon !== 1) bad('lexicon', 'must be 1')
  if (typeof doc.id !== 'string' || !isNsid(doc.id))
    bad('id', `must be a valid NSID (got ${JSON.stringify(doc.id)})`)
  const id = doc.id
  opt(doc, 'revision', id, 'count')
  opt(doc, 'description', id, 'string')
  const defs = obj(doc.defs, `${id}: defs`)
  if (Object.keys(defs).length === 0) bad(`${id}: defs`, 'must not be empty')
  for (const [name, def] of Object.entries(defs)) {
    const path = `${id}#${name}`
    if (!DEF_NAME_RE.test(name)) bad(path, 'is not a valid definition name')
    const type = isObj(def) ? def.type : undefined
    if (name !== 'main' && PRIMARY.has(type as string))
      bad(path, `is a ${type} and must be the "main" definition`)
    checkField(def, path, TOP_LEVEL)
  }
  return doc as unknown as LexiconDoc
}
