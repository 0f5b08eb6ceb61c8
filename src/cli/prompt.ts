/**
 * `murmur prompt` (give an agent a turn: `agent.runtime.prompt`, then poll
 * `agent.runtime.getTurn` until it is done or failed) and `murmur turn` (one
 * turn, by id). A done turn's note says what was asked, the answer, the tool
 * calls and the model that ran; the answer goes to stdout, the rest to stderr
 * (dim on a terminal), so `$(murmur prompt …)` is the answer alone.
 */
import type { Client } from './client.ts'
import { type Context, printJson } from './context.ts'
import { CliError, usage } from './errors.ts'
import { colorEnabled, painter } from './format.ts'

/** As `agent.runtime.getTurn` answers (src/agent/turns.ts). */
export interface TurnView {
  id: string
  source?: string
  state: 'queued' | 'running' | 'done' | 'failed'
  attempts: number
  error?: string
  /** The at-uri of the agent.memory.note the turn wrote, once done. */
  note?: string
}

interface NoteRecord {
  uri: string
  cid?: string
  value: { text?: unknown; [k: string]: unknown }
}

/** A turn's note, read back into its parts (src/agent/turn-queue.ts writes it). */
export interface TurnNote {
  answer: string
  toolCalls: string[]
  model?: string
}

const POLL_MS = 100

export interface WaitOptions {
  /** Seconds to wait for the turn to finish. */
  timeout: number
}

export interface PromptOptions extends WaitOptions {
  /** False with `--no-wait`: print the turn id and return. */
  wait: boolean
}

/** `--timeout`: seconds, a positive number. */
export function seconds(raw: string): number {
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw usage(`not a number of seconds: ${raw}`)
  return n
}

/**
 * Split the note's text: `Asked: …`, `Answer: …`, `Tool calls: none` or a
 * `- tool {args}` line per call, `Model: …`. Parts are found from the ends
 * (the answer may run over several lines), and the prompt, when known, is
 * matched exactly, so text that itself says "Answer:" does not confuse it.
 */
export function parseNote(text: string, asked?: string): TurnNote {
  let rest = text
  let model: string | undefined
  const m = rest.lastIndexOf('\nModel: ')
  if (m >= 0) {
    model = rest.slice(m + '\nModel: '.length).trim()
    rest = rest.slice(0, m)
  }
  let toolCalls: string[] = []
  const t = rest.lastIndexOf('\nTool calls:')
  if (t >= 0) {
    toolCalls = rest
      .slice(t + '\nTool calls:'.length)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && l !== 'none')
      .map((l) => l.replace(/^- /, ''))
    rest = rest.slice(0, t)
  }
  const head = asked === undefined ? undefined : `Asked: ${asked.trim()}\nAnswer: `
  let answer: string
  if (head && rest.startsWith(head)) answer = rest.slice(head.length)
  else {
    const a = rest.indexOf('\nAnswer: ')
    answer = a >= 0 ? rest.slice(a + '\nAnswer: '.length) : rest
  }
  return { answer: answer.trim(), toolCalls, ...(model ? { model } : {}) }
}

async function getTurn(client: Client, repo: string, turn: string): Promise<TurnView> {
  const res = await client.get<{ turn: TurnView }>('agent.runtime.getTurn', { repo, turn }, true)
  return res.turn
}

/** Poll the turn until it is done or failed; a CliError after `timeout` seconds. */
async function waitFor(
  ctx: Context,
  agent: string,
  repo: string,
  turn: string,
  opts: WaitOptions,
): Promise<TurnView> {
  const deadline = Date.now() + opts.timeout * 1000
  for (;;) {
    const view = await getTurn(ctx.client, repo, turn)
    if (view.state === 'done' || view.state === 'failed') return view
    if (Date.now() >= deadline)
      throw new CliError(
        `turn ${turn} did not finish within ${opts.timeout} s (still ${view.state}` +
          `${view.attempts > 1 ? `, attempt ${view.attempts}` : ''}); ` +
          `see it later with: murmur turn ${agent} ${turn}`,
      )
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))))
  }
}

async function readNote(client: Client, uri: string): Promise<NoteRecord> {
  const match = /^at:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(uri)
  if (!match) throw new CliError(`the turn's note is not an at-uri: ${uri}`)
  const [, repo, collection, rkey] = match
  return client.get<NoteRecord>('com.atproto.repo.getRecord', { repo, collection, rkey })
}

/**
 * Print a finished turn: a done one's note (text or JSON); a failed one throws
 * its error as the command's one line (after the JSON, with `--json`).
 */
async function report(ctx: Context, view: TurnView, asked?: string): Promise<void> {
  if (view.state === 'failed') {
    if (ctx.json) printJson(ctx, { turn: view })
    throw new CliError(`turn ${view.id} failed: ${view.error ?? 'no error recorded'}`)
  }
  if (!view.note) {
    if (ctx.json) return printJson(ctx, { turn: view })
    return ctx.out(`turn ${view.id} is done but wrote no note`)
  }
  const note = await readNote(ctx.client, view.note)
  const text = typeof note.value.text === 'string' ? note.value.text : ''
  const parsed = parseNote(text, asked)
  if (ctx.json) return printJson(ctx, { turn: view, note, ...parsed })
  const err = painter(colorEnabled(process.stderr))
  const side = (line: string) => process.stderr.write(`${err('dim', line)}\n`)
  for (const call of parsed.toolCalls) side(`→ ${call}`)
  ctx.out(ctx.paint('bold', parsed.answer))
  side(`model: ${parsed.model ?? 'not recorded'} · turn ${view.id}`)
}

export async function prompt(ctx: Context, agent: string, text: string, opts: PromptOptions): Promise<void> {
  if (!text.trim()) throw usage('the prompt text is empty')
  const repo = await ctx.client.resolve(agent)
  const { turn } = await ctx.client.post<{ turn: string }>('agent.runtime.prompt', { repo, text })
  if (!opts.wait) {
    if (ctx.json) return printJson(ctx, { turn: await getTurn(ctx.client, repo, turn) })
    return ctx.out(turn)
  }
  const view = await waitFor(ctx, agent, repo, turn, opts)
  await report(ctx, view, text)
}

/** `murmur turn <agent> <id>`: where a turn stands; a finished one printed as `prompt` does. */
export async function showTurn(
  ctx: Context,
  agent: string,
  turn: string,
  opts: WaitOptions & { wait?: boolean },
): Promise<void> {
  const repo = await ctx.client.resolve(agent)
  const view = opts.wait ? await waitFor(ctx, agent, repo, turn, opts) : await getTurn(ctx.client, repo, turn)
  if (view.state === 'done' || view.state === 'failed') return report(ctx, view)
  if (ctx.json) return printJson(ctx, { turn: view })
  ctx.out(`turn ${view.id} is ${view.state}${view.attempts > 0 ? ` (attempt ${view.attempts})` : ''}`)
}
