/**
 * `npm run bench [suite…]`: runs every suite (or the ones named), prints a
 * table, writes bench/results.json. Each suite measures Murmur and a peer
 * baseline in the same run. A partial run keeps the other suites' results.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchEntry } from './lib.ts'
import comms from './suites/comms.ts'
import core from './suites/core.ts'
import http from './suites/http.ts'
import memory from './suites/memory.ts'
import relay from './suites/relay.ts'
import relayCrawl from './suites/relay-crawl.ts'
import runtime from './suites/runtime.ts'

const suites: Array<[string, () => Promise<BenchEntry[]>]> = [
  ['core', core],
  ['http', http],
  ['relay', relay],
  ['relay-crawl', relayCrawl],
  ['comms', comms],
  ['memory', memory],
  ['runtime', runtime],
]
const only = process.argv.slice(2)
const unknown = only.filter((name) => !suites.some(([s]) => s === name))
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${suites.map(([s]) => s).join(', ')}`)
  process.exit(2)
}

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
// A partial run replaces its own entries (by name) and keeps the rest.
const kept =
  only.length > 0 && existsSync(out)
    ? (JSON.parse(readFileSync(out, 'utf8')) as BenchEntry[]).filter(
        (old) => !results.some((e) => e.name === old.name),
      )
    : []
writeFileSync(out, `${JSON.stringify([...kept, ...results], null, 2)}\n`)
console.log(`\nwrote ${out}`)
