import { fail } from '../errors.ts'
import { isNsid, isRecordKey, isTid } from '../syntax/index.ts'
import { invalid, isObject } from './data.ts'
import { parseLexiconDoc } from './doc.ts'
import type { LexiconDoc, LexRecordKey, LexUserType } from './types.ts'
import { canonicalRef, type DefResolver, validateValue } from './validate.ts'

/** Does `rkey` satisfy a record's key type? */
export function isValidRecordKeyFor(key: LexRecordKey, rkey: string): boolean {
  if (!isRecordKey(rkey)) return false
  if (key === 'tid') return isTid(rkey)
  if (key === 'nsid') return isNsid(rkey)
  if (key === 'any') return true
  return rkey === key.slice('literal:'.length)
}

/** A registry of parsed Lexicon documents that can validate records and values against them. */
export class Lexicons implements DefResolver, Iterable<LexiconDoc> {
  private readonly docs = new Map<string, LexiconDoc>()

  constructor(docs?: unknown[]) {
    for (const doc of docs ?? []) this.add(doc)
  }

  /** Parse and register a document; throws InvalidLexicon if invalid or already registered. */
  add(doc: unknown): LexiconDoc {
    // Keep a private copy so later mutation of the caller's object cannot bypass validation.
    const parsed = parseLexiconDoc(structuredClone(doc))
    if (this.docs.has(parsed.id)) fail('InvalidLexicon', `${parsed.id} is already registered`)
    this.docs.set(parsed.id, parsed)
    return parsed
  }

  remove(nsid: string): boolean {
    return this.docs.delete(nsid)
  }

  get(nsid: string): LexiconDoc | undefined {
    return this.docs.get(nsid)
  }

  has(nsid: string): boolean {
    return this.docs.has(nsid)
  }

  [Symbol.iterator](): Iterator<LexiconDoc> {
    return this.docs.values()
  }

  /** Definition for `nsid` (main) or `nsid#name`, or undefined. */
  getDef(ref: string): LexUserType | undefined {
    const hash = ref.indexOf('#')
    const id = hash === -1 ? ref : ref.slice(0, hash)
    const name = hash === -1 ? 'main' : ref.slice(hash + 1)
    const defs = this.docs.get(id)?.defs
    return defs && Object.hasOwn(defs, name) ? defs[name] : undefined
  }

  /** @internal DefResolver: throws InvalidLexicon when the target does not exist. */
  resolve(ref: string, baseId: string): { uri: string; id: string; def: LexUserType } {
    const uri = canonicalRef(ref, baseId)
    const def = this.getDef(uri)
    if (!def) fail('InvalidLexicon', `Lexicon definition not found: ${uri}`)
    const hash = uri.indexOf('#')
    return { uri, id: hash === -1 ? uri : uri.slice(0, hash), def }
  }

  /**
   * Validate a record (atproto JSON form) for `collection`, and its record key if given.
   * Throws InvalidRecord naming the path (`record/foo/0 must be a string`); throws
   * InvalidLexicon if the schema is missing or is not a record.
   */
  validateRecord(collection: string, record: unknown, rkey?: string): void {
    const def = this.getDef(collection)
    if (!def) fail('InvalidLexicon', `Lexicon not found: ${collection}`)
    if (def.type !== 'record')
      fail('InvalidLexicon', `${collection} is not a record type (it is ${def.type})`)
    if (!isObject(record)) invalid('record', 'must be an object')
    if (record.$type !== collection) invalid('record/$type', `must be ${JSON.stringify(collection)}`)
    if (rkey !== undefined && !isValidRecordKeyFor(def.key, rkey)) {
      invalid('rkey', `${JSON.stringify(rkey)} does not match record key type "${def.key}"`)
    }
    validateValue(this, collection, def, record, 'record')
  }

  /** Validate a value against `nsid` or `nsid#name` (e.g. an object def). */
  validateValue(ref: string, value: unknown): void {
    const { id, def } = this.resolve(ref, '')
    if (
      def.type === 'query' ||
      def.type === 'procedure' ||
      def.type === 'subscription' ||
      def.type === 'permission-set'
    ) {
      fail('InvalidLexicon', `${ref} is a ${def.type}; validate its parameters, input or output instead`)
    }
    validateValue(this, id, def, value, 'value')
  }

  /** Validate XRPC query parameters (already decoded to typed values) for `nsid`. */
  validateParams(nsid: string, params: unknown): void {
    const def = this.xrpc(nsid)
    if (def.parameters) validateValue(this, nsid, def.parameters, params ?? {}, 'params')
  }

  /** Validate a JSON request body for a procedure. */
  validateInput(nsid: string, body: unknown): void {
    const def = this.xrpc(nsid)
    const schema = def.type === 'procedure' ? def.input?.schema : undefined
    if (schema) validateValue(this, nsid, schema, body, 'input')
  }

  /** Validate a JSON response body for a query or procedure. */
  validateOutput(nsid: string, body: unknown): void {
    const def = this.xrpc(nsid)
    const schema = def.type === 'subscription' ? undefined : def.output?.schema
    if (schema) validateValue(this, nsid, schema, body, 'output')
  }

  private xrpc(nsid: string) {
    const def = this.getDef(nsid)
    if (!def) fail('InvalidLexicon', `Lexicon not found: ${nsid}`)
    if (def.type !== 'query' && def.type !== 'procedure' && def.type !== 'subscription') {
      fail('InvalidLexicon', `${nsid} is not an XRPC method (it is ${def.type})`)
    }
    return def
  }
}
