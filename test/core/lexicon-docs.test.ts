/**
 * The files `npm run lexicons` generates must match the JSON documents: each is rendered again in
 * memory, by the generator's own code, and compared with what is checked in.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { A2A_PLACEHOLDER, A2A_TASK_STATES, renderLexiconDocs, slug } from '../../scripts/lexicon-docs.ts'
import {
  BUNDLE_PATH,
  DOCS_INTRO_PATH,
  DOCS_PATH,
  ROOT,
  readLexiconSources,
  renderLexiconBundle,
} from '../../scripts/lexicon-sources.ts'
import { LEXICON_DOCS } from '../../src/lexicons.generated.ts'

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8')
const sources = readLexiconSources()
const docs = sources.map((s) => s.doc)
const intro = read(DOCS_INTRO_PATH)
const STALE = 'out of date with lexicons/: run `npm run lexicons`'

describe('generated lexicon files', () => {
  it(`${BUNDLE_PATH} bundles exactly the JSON documents`, () => {
    expect(read(BUNDLE_PATH), `${BUNDLE_PATH} is ${STALE}`).toBe(renderLexiconBundle(sources))
    expect(LEXICON_DOCS).toEqual(docs)
  })

  it(`${DOCS_PATH} is generated from the JSON documents`, () => {
    expect(read(DOCS_PATH), `${DOCS_PATH} is ${STALE}`).toBe(renderLexiconDocs(docs, intro))
  })
})

describe('the lexicon reference', () => {
  const md = renderLexiconDocs(docs, intro)

  it('documents every definition of every document, with an anchor the index links to', () => {
    for (const doc of docs as { id: string; defs: Record<string, unknown> }[]) {
      expect(md).toContain(`\n### ${doc.id}\n`)
      expect(md).toContain(`](#${slug(doc.id)})`)
      for (const name of Object.keys(doc.defs)) {
        if (name !== 'main') expect(md).toContain(`\n#### ${doc.id}#${name}\n`)
      }
    }
  })

  it('shows the agent.comms limits in the tables', () => {
    for (const row of [
      /\| `text` \| string \| yes \| ≤ 10,000 graphemes; ≤ 100,000 bytes \|/,
      /\| `audience` \| array of .*agent\.comms\.defs#audienceEntry.* \| {2}\| ≤ 100 items \|/,
      /\| `priority` \| integer \| {2}\| ≥ 1; ≤ 5; default 3 \|/,
      /\| `ttlSeconds` \| integer \| {2}\| ≥ 1; ≤ 604,800 \|/,
      /\| `task` \| string \| yes \| ≤ 512 graphemes; ≤ 5,120 bytes \|/,
      /\| `blob` \| blob \| yes \| ≤ 10,000,000 bytes \|/,
    ]) {
      expect(md).toMatch(row)
    }
  })

  it('maps every task state to A2A, including what stands for A2A `unknown`', () => {
    for (const state of Object.keys(A2A_TASK_STATES)) {
      const upper = state.toUpperCase().replace(/-/g, '_')
      expect(md).toContain(`| \`${state}\` | \`${state}\` | \`TASK_STATE_${upper}\` |`)
    }
    expect(md).toContain('| (any other value) | `unknown` | `TASK_STATE_UNSPECIFIED` |')
    expect(md).not.toContain(A2A_PLACEHOLDER)
  })

  it('refuses to render when the task states and the A2A mapping drift apart', () => {
    const drifted = structuredClone(docs) as {
      id: string
      defs: Record<string, { knownValues?: string[] }>
    }[]
    const defs = drifted.find((d) => d.id === 'agent.comms.defs')!
    defs.defs.taskState!.knownValues!.push('paused')
    expect(() => renderLexiconDocs(drifted, intro)).toThrow(/knownValues .* differ from A2A_TASK_STATES/)
  })

  it('refuses an intro without the A2A placeholder, and documents only valid lexicons', () => {
    expect(() => renderLexiconDocs(docs, '# Lexicons')).toThrow(/a2a-task-states/)
    expect(() => renderLexiconDocs([...docs, { lexicon: 1, id: 'bad', defs: {} }], intro)).toThrow(/NSID/)
  })
})
