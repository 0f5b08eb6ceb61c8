import { fail } from '../errors.ts'
import { isAtIdentifier } from './at-identifier.ts'
import { preview } from './did.ts'
import { isNsid } from './nsid.ts'
import { isRecordKey } from './record-key.ts'

/** Max AT URI length (8 KiB). */
export const MAX_AT_URI_LENGTH = 8192

export interface ParsedAtUri {
  /** DID or handle, as written. */
  authority: string
  collection?: string
  rkey?: string
}

/**
 * Strict ("Lexicon") AT URI: `at://AUTHORITY[/COLLECTION[/RKEY]]`, no query, fragment or
 * trailing slash. Returns undefined when invalid.
 */
function tryParse(s: string): ParsedAtUri | undefined {
  if (typeof s !== 'string' || s.length > MAX_AT_URI_LENGTH || !s.startsWith('at://')) return undefined
  const parts = s.slice(5).split('/')
  if (parts.length > 3) return undefined
  const [authority, collection, rkey] = parts as [string, string | undefined, string | undefined]
  if (!isAtIdentifier(authority)) return undefined
  if (collection === undefined) return { authority }
  if (!isNsid(collection)) return undefined
  if (rkey === undefined) return { authority, collection }
  if (!isRecordKey(rkey)) return undefined
  return { authority, collection, rkey }
}

export function isAtUri(s: string): boolean {
  return tryParse(s) !== undefined
}

export function assertAtUri(s: unknown): asserts s is string {
  if (!isAtUri(s as string)) fail('InvalidSyntax', `Invalid AT URI: ${preview(s)}`)
}

/** Parse a strict AT URI; throws AtprotoError('InvalidSyntax'). */
export function parseAtUri(s: string): ParsedAtUri {
  return tryParse(s) ?? fail('InvalidSyntax', `Invalid AT URI: ${preview(s)}`)
}

/** Inverse of parseAtUri. Does not validate. */
export function formatAtUri(uri: ParsedAtUri): string {
  let out = `at://${uri.authority}`
  if (uri.collection !== undefined) out += `/${uri.collection}`
  if (uri.rkey !== undefined) out += `/${uri.rkey}`
  return out
}
