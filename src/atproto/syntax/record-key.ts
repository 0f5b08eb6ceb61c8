import { fail } from '../errors.ts'
import { preview } from './did.ts'

const RKEY_RE = /^[a-zA-Z0-9._:~-]{1,512}$/

/** Record key syntax: 1-512 chars of `[a-zA-Z0-9._:~-]`, and not `.` or `..`. */
export function isRecordKey(s: string): boolean {
  return typeof s === 'string' && s !== '.' && s !== '..' && RKEY_RE.test(s)
}

export function assertRecordKey(s: unknown): asserts s is string {
  if (!isRecordKey(s as string)) fail('InvalidSyntax', `Invalid record key: ${preview(s)}`)
}
