/** The network's lexicons: the JSON documents under lexicons/, loaded once. */
import { Lexicons } from './atproto/lexicon/index.ts'
import { LEXICON_DOCS } from './lexicons.generated.ts'

export const lexicons = new Lexicons([...LEXICON_DOCS])

/** Collections we own: writes to them are always validated strictly. */
export function isOwnCollection(collection: string): boolean {
  return collection.startsWith('agent.')
}
