/**
 * `npm run bench`: runs every suite, prints a table, writes bench/results.json.
 * Each suite measures Murmur and a peer baseline in the same run.
 */
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchEntry } from './lib.ts'
import core from './suites/core.ts'

const suites: Array<[string, () => Promise<BenchEntry[]>]> = [['core', core]]
const only = process.argv.slice(2)

const results: BenchEntry[] = []
for (const [name, run] of suites) {
  if (only.length > 0 && !only.includes(name)) continue
  console.log(`\n▶ ${name}`)
  for (const e of await run()) {
    results.push(e)
    const base = e.baseline === null ? '—' : `${e.baseline} (${e.baselineName})`
    const ratio = e.ratio === null ? '' : `  ratio ${e.ratio}×`
    console.log(
      `  ${e.name.padEnd(48)} ours ${String(e.ours).padStart(10)} ${e.unit.padEnd(10)} baseline ${base}${ratio}`,
    )
  }
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json')
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${out}`)
