/** Reads the atproto interop fixtures and tallies pass counts per family. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'atproto-interop-tests')

export function fixtureJson<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, rel), 'utf8')) as T
}

/** Counts passes per family and prints `family: passed/total passed` once the file's tests end. */
export class Tally {
  private readonly counts = new Map<string, { passed: number; total: number }>()

  /** Run one fixture case; the tally counts it as passed only if `fn` does not throw. */
  async check(family: string, fn: () => unknown | Promise<unknown>): Promise<void> {
    let ok = false
    try {
      await fn()
      ok = true
    } finally {
      this.record(family, ok)
    }
  }

  /** Count one case whose outcome the caller decided. */
  record(family: string, ok: boolean): void {
    this.recordMany(family, ok ? 1 : 0, 1)
  }

  /** Count a batch of cases of which `passed` passed. */
  recordMany(family: string, passed: number, total: number): void {
    const c = this.counts.get(family) ?? { passed: 0, total: 0 }
    this.counts.set(family, c)
    c.passed += passed
    c.total += total
  }

  print(): void {
    for (const [family, c] of [...this.counts].sort(([a], [b]) => a.localeCompare(b)))
      console.log(`${family}: ${c.passed}/${c.total} passed`)
  }
}
