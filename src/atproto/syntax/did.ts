import { fail } from '../errors.ts'

/** Max DID length accepted by atproto (2 KiB). */
export const MAX_DID_LENGTH = 2048

const DID_RE = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/

/** atproto DID syntax: `did:<lowercase method>:<identifier>`; not resolved, not method-specific. */
export function isDid(s: string): boolean {
  return typeof s === 'string' && s.length <= MAX_DID_LENGTH && DID_RE.test(s)
}

export function assertDid(s: unknown): asserts s is string {
  if (!isDid(s as string)) fail('InvalidSyntax', `Invalid DID: ${preview(s)}`)
}

/** Short, printable excerpt of untrusted input for error messages. */
export function preview(s: unknown): string {
  if (typeof s !== 'string') return `(${typeof s})`
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s)
}
