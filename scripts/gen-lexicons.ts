#!/usr/bin/env node
/**
 * `npm run lexicons`: from the JSON documents under lexicons/, writes
 * - src/lexicons.generated.ts, so the Worker validates against exactly the documents in the repo;
 * - docs/lexicons.md, the reference (its intro comes from scripts/lexicon-docs-intro.md).
 * test/core/lexicon-docs.test.ts fails when either file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderLexiconDocs } from './lexicon-docs.ts'
import {
  BUNDLE_PATH,
  DOCS_INTRO_PATH,
  DOCS_PATH,
  ROOT,
  readLexiconSources,
  renderLexiconBundle,
} from './lexicon-sources.ts'

const sources = readLexiconSources()
writeFileSync(join(ROOT, BUNDLE_PATH), renderLexiconBundle(sources))
console.log(`wrote ${BUNDLE_PATH} (${sources.length} documents)`)

const intro = readFileSync(join(ROOT, DOCS_INTRO_PATH), 'utf8')
const docs = sources.map((s) => s.doc)
writeFileSync(join(ROOT, DOCS_PATH), renderLexiconDocs(docs, intro))
console.log(`wrote ${DOCS_PATH}`)
