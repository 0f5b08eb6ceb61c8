/**
 * How the runtime bench reports: one question's milestones (`Trial`), the
 * p50 / p99 / mean of a list of times, the table of a run's trials, and its
 * bench entries against the in-process peer.
 */
import type { Network } from '../test/e2e/network.ts'
import { type BenchEntry, entry, percentile } from './lib.ts'
import { PEER } from './runtime-baseline.ts'

/** One question's milestones, wall-clock ms. */
export interface Trial {
  t0: number
  ack: number
  /** A's message on the stream. */
  onStream: number
  /** A's message pushed to B's inbox. */
  inbox: number
  /** The turn created (from its id: the Worker's clock, whole ms). */
  created: number
  /** B's reply on the stream. */
  reply: number
  /** The reply pushed to A's inbox. */
  back: number
  turn: string
}

export const stats = (xs: number[]) => ({
  p50: percentile(xs, 50),
  p99: percentile(xs, 99),
  mean: xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length),
})
export const fmt = (xs: number[]) => {
  const s = stats(xs)
  return `p50 ${s.p50.toFixed(1)} / p99 ${s.p99.toFixed(1)} / mean ${s.mean.toFixed(1)} ms`
}

/** The consumer's `turn done <id> <ms> ms` lines: the time inside runTurn, by turn id. */
export function consumerTimes(net: Network): Map<string, number> {
  const out = new Map<string, number>()
  for (const m of net.output().matchAll(/turn done (\S+) (\d+) ms/g)) out.set(m[1]!, Number(m[2]))
  return out
}

export function report(label: string, trials: Trial[], consumer: Map<string, number>) {
  const d = (f: (t: Trial) => number) => trials.map(f)
  console.log(`    ${label}: ${trials.length} answered`)
  const rows: Array<[string, number[]]> = [
    ['inbox item → first tool write (B inbox push → reply on stream)', d((t) => t.reply - t.inbox)],
    ['A message on stream → B reply on stream', d((t) => t.reply - t.onStream)],
    ['end to end: A sends → answer in A inbox', d((t) => t.back - t.t0)],
    ['  createRecord acknowledged', d((t) => t.ack - t.t0)],
    ['  A sends → A message on stream', d((t) => t.onStream - t.t0)],
    ['  A message on stream → B inbox push (delivery)', d((t) => t.inbox - t.onStream)],
    ['  turn created → reply on stream (queue + turn to 1st write)', d((t) => t.reply - t.created)],
    ['  reply on stream → A inbox push (delivery back)', d((t) => t.back - t.reply)],
  ]
  const inConsumer = trials.map((t) => consumer.get(t.turn)).filter((x): x is number => x !== undefined)
  for (const [name, xs] of rows) console.log(`      ${name.padEnd(64)} ${fmt(xs)}`)
  console.log(
    `      ${'  runTurn in the consumer (its log; whole turn, ms clock)'.padEnd(64)} ${fmt(inConsumer)} (${inConsumer.length} matched)`,
  )
}

/** An entry whose ratio keeps two significant digits: ours is hundreds of times the in-process floor. */
export function timed(name: string, ours: number, base: number): BenchEntry {
  const e = entry(name, 'ms', ours, base, PEER, 'lower-is-better')
  return { ...e, ratio: ours > 0 && base > 0 ? Number((base / ours).toPrecision(2)) : null }
}
