/**
 * Our lexicon validator against the reference one (@atproto/lexicon), over
 * the documents under lexicons/: each side's verdict on a record, and the
 * shared suite that holds them to the same verdict on a table of cases.
 */
import {
  jsonToLex,
  type LexiconDoc as RefLexiconDoc,
  Lexicons as RefLexicons,
  ValidationError,
} from '@atproto/lexicon'
import { describe, expect, it } from 'vitest'
import { readLexiconSources } from '../scripts/lexicon-sources.ts'
import { AtprotoError } from '../src/atproto/errors.ts'
import { Lexicons } from '../src/atproto/lexicon/index.ts'
import type { LexObject } from '../src/atproto/lexicon/types.ts'
import type { Rec } from './comms-records.ts'

export const sources = readLexiconSources()
export const docs = sources.map((s) => s.doc)
export const ours = new Lexicons(docs)
// @atproto/lexicon rewrites the refs of the documents it is given in place: give it a copy.
export const theirs = new RefLexicons(structuredClone(docs) as RefLexiconDoc[])

/** Our verdict: undefined when valid, else the error message. */
export function oursSay(record: Rec, rkey?: string): string | undefined {
  try {
    ours.validateRecord(record.$type as string, record, rkey)
    return undefined
  } catch (err) {
    if (err instanceof AtprotoError && err.code === 'InvalidRecord') return err.message
    throw err
  }
}

/** The reference's verdict, on the record in its in-memory form (CIDs and BlobRefs, as its PDS does). */
export function theySay(record: Rec): string | undefined {
  try {
    theirs.assertValidRecord(record.$type as string, jsonToLex(record as never))
    return undefined
  } catch (err) {
    if (err instanceof ValidationError) return err.message
    throw err
  }
}

/** The path an error message starts with, in our spelling (`Record/x` → `record/x`, `/$type` dropped). */
export function pathOf(message: string): string {
  const path = message.split(' ')[0] ?? ''
  return path.replace(/^Record/, 'record').replace(/\/\$type$/, '')
}

export function recordOf(id: string): LexObject {
  const def = ours.getDef(id)
  if (def?.type !== 'record') throw new Error(`${id} is not a record`)
  return def.record
}

export interface Case {
  name: string
  record: Rec
  valid: boolean
}

export const ok = (name: string, record: Rec): Case => ({ name, record, valid: true })
export const bad = (name: string, record: Rec): Case => ({ name, record, valid: false })
export const long = (n: number) => 'a'.repeat(n)

/** Both validators accept the valid cases and refuse the others, naming the same path. */
export function agreementSuite(title: string, recordIds: readonly string[], cases: Case[]): void {
  describe(`${title}: ours and @atproto/lexicon agree`, () => {
    it('covers every record type, valid and invalid', () => {
      for (const id of recordIds) {
        const mine = cases.filter((c) => c.record.$type === id)
        expect(
          mine.some((c) => c.valid),
          id,
        ).toBe(true)
        expect(
          mine.some((c) => !c.valid),
          id,
        ).toBe(true)
      }
    })

    it.each(cases)('$name', ({ record, valid }) => {
      const our = oursSay(record)
      const their = theySay(record)
      expect(our === undefined, `ours: ${our}`).toBe(valid)
      expect(their === undefined, `@atproto/lexicon: ${their}`).toBe(valid)
      // Refused for the same reason: both name the same path (their words differ).
      if (our !== undefined && their !== undefined) expect(pathOf(our)).toBe(pathOf(their))
    })
  })
}
