/** What every command gets: the client and how to print. */
import type { Client } from './client.ts'
import type { Paint } from './format.ts'

export interface Context {
  client: Client
  /** Print machine-readable JSON instead of text. */
  json: boolean
  paint: Paint
  /** A line on stdout. */
  out: (line: string) => void
}

/** Print a value as JSON on stdout. */
export function printJson(ctx: Context, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2))
}
