import { fail } from '../errors.ts'
import { preview } from './did.ts'

export const MAX_HANDLE_LENGTH = 253

// Labels are 1-63 chars of [a-zA-Z0-9-], no leading/trailing hyphen; the TLD must start with a letter.
const HANDLE_RE = /^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/

/** atproto handle syntax (a DNS name with at least two labels). Case-insensitive; not normalised. */
export function isHandle(s: string): boolean {
  return typeof s === 'string' && s.length <= MAX_HANDLE_LENGTH && HANDLE_RE.test(s)
}

export function assertHandle(s: unknown): asserts s is string {
  if (!isHandle(s as string)) fail('InvalidSyntax', `Invalid handle: ${preview(s)}`)
}

/** Handles compare case-insensitively; the canonical form is lowercase. Does not validate. */
export function normalizeHandle(s: string): string {
  return s.toLowerCase()
}

/** Validate then lowercase; throws InvalidSyntax. */
export function normalizeAndAssertHandle(s: string): string {
  assertHandle(s)
  return normalizeHandle(s)
}
