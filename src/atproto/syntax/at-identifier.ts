import { fail } from '../errors.ts'
import { isDid, preview } from './did.ts'
import { isHandle } from './handle.ts'

/** A DID or a handle (the authority part of an AT URI, or an actor identifier). */
export function isAtIdentifier(s: string): boolean {
  return typeof s === 'string' && (s.startsWith('did:') ? isDid(s) : isHandle(s))
}

export function assertAtIdentifier(s: unknown): asserts s is string {
  if (!isAtIdentifier(s as string)) fail('InvalidSyntax', `Invalid AT identifier: ${preview(s)}`)
}
