import { fail } from '../errors.ts'
import { preview } from './did.ts'

export const MAX_NSID_LENGTH = 317

// Reversed-domain authority (first segment starts with a letter) plus a name segment that is
// alphanumeric and starts with a letter. Every segment is 1-63 chars.
const NSID_RE =
  /^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$/

export interface ParsedNsid {
  /** Domain authority in normal DNS order, lowercased: `com.example.fooBar` → `example.com`. */
  authority: string
  /** Final segment, case preserved: `fooBar`. */
  name: string
  /** All segments as written. */
  segments: string[]
}

export function isNsid(s: string): boolean {
  return typeof s === 'string' && s.length <= MAX_NSID_LENGTH && NSID_RE.test(s)
}

export function assertNsid(s: unknown): asserts s is string {
  if (!isNsid(s as string)) fail('InvalidSyntax', `Invalid NSID: ${preview(s)}`)
}

export function parseNsid(s: string): ParsedNsid {
  assertNsid(s)
  const segments = s.split('.')
  const name = segments[segments.length - 1]!
  const authority = segments.slice(0, -1).reverse().join('.').toLowerCase()
  return { authority, name, segments }
}
