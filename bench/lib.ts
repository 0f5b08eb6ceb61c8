/** Shared pieces of the benchmark harness: the result shape and timing helpers. */

export interface BenchEntry {
  name: string
  unit: string
  ours: number
  baseline: number | null
  baselineName: string | null
  /** Oriented so that higher is better for us (ours/baseline for rates, baseline/ours for times). */
  ratio: number | null
}

export type Orientation = 'higher-is-better' | 'lower-is-better'

export function entry(
  name: string,
  unit: string,
  ours: number,
  baseline: number | null,
  baselineName: string | null,
  orientation: Orientation,
): BenchEntry {
  let ratio: number | null = null
  if (baseline !== null && baseline > 0 && ours > 0)
    ratio = orientation === 'higher-is-better' ? ours / baseline : baseline / ours
  return {
    name,
    unit,
    ours: round(ours),
    baseline: baseline === null ? null : round(baseline),
    baselineName,
    ratio: ratio === null ? null : round(ratio),
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

/** Run `fn` `n` times sequentially; returns operations per second. */
export async function opsPerSecond(
  n: number,
  fn: (i: number) => Promise<unknown> | unknown,
): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  return n / ((performance.now() - start) / 1000)
}

/** Wall-clock milliseconds with sub-millisecond resolution (for comparing with timestamps a Worker wrote). */
export const wall = () => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Time one async call in milliseconds. */
export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** Percentile (0–100) of a list of samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]!
}
