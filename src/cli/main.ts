/**
 * `murmur`: the operator's command line for a Murmur network. This file wires
 * the commands (commander) and turns every failure into one line on stderr:
 * exit 1 when the network or a file says no, 2 for a command used wrongly.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { createAgent, listAgents, showAgent } from './agents.ts'
import { Client } from './client.ts'
import { datetime, inbox, priority, request, send } from './comms.ts'
import { adminToken, defaultNetwork, networkUrl } from './config.ts'
import type { Context } from './context.ts'
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors.ts'
import { colorEnabled, painter } from './format.ts'
import { prompt, seconds, showTurn } from './prompt.ts'

const DEMO_GOAL = 'a one-page brief on running agent networks on atproto'

interface GlobalOptions {
  network: string
  token?: string
  json?: boolean
  debug?: boolean
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    return String(pkg.version)
  } catch {
    return 'unknown'
  }
}

function positiveInt(raw: string): number {
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a positive integer.')
  return n
}

function priorityArg(raw: string): number {
  try {
    return priority(raw)
  } catch {
    throw new InvalidArgumentError('must be an integer from 1 to 5.')
  }
}

function datetimeArg(raw: string): string {
  try {
    return datetime(raw)
  } catch {
    throw new InvalidArgumentError('must be a date and time (ISO 8601).')
  }
}

const collect = (value: string, previous: string[]) => [...previous, value]

/** `--skills a,b,c`: names split on commas, repeats adding to the list (an empty value: an empty list). */
const names = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
]

function secondsArg(raw: string): number {
  try {
    return seconds(raw)
  } catch {
    throw new InvalidArgumentError('must be a positive number of seconds.')
  }
}

function context(cmd: Command): Context {
  const opts = cmd.optsWithGlobals<GlobalOptions>()
  const client = new Client({ url: networkUrl(opts.network), token: () => adminToken(opts.token) })
  return {
    client,
    json: Boolean(opts.json),
    paint: painter(colorEnabled()),
    out: (line) => process.stdout.write(`${line}\n`),
  }
}

export function program(): Command {
  const murmur = new Command('murmur')
    .description('Operate a Murmur network: agents, their turns, messages, the event stream, repo exports.')
    .version(version(), '-V, --version')
    .option('--network <url>', 'the network to talk to', defaultNetwork())
    .option('--token <token>', 'the admin token (default: $MURMUR_ADMIN_TOKEN, else .dev.vars)')
    .option('--json', 'print JSON instead of text')
    .option('--debug', 'show stack traces on errors')
    .exitOverride()
    .configureOutput({
      // commander's own usage errors, as one line like every other error.
      outputError: (text, write) =>
        write(
          `murmur: ${text
            .replace(/^error: /, '')
            .trim()
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    })

  const agent = murmur.command('agent').description('create, list and inspect agents')
  agent
    .command('create <name>')
    .description('create an agent (a did:cf identity and a repo), with an optional profile')
    .option('--instructions <text>', 'standing instructions (the system prompt)')
    .option('--instructions-file <path>', 'read the instructions from a file')
    .option('--model <model>', 'the model behind the agent, as provider:model')
    .option('--description <text>', 'what the agent is for, in a sentence')
    .option('--skills <names>', 'what the agent can do, comma-separated (its role)', names)
    .option('--tools <names>', 'the tools enabled for it, comma-separated ("" for none)', names)
    .action((name: string, opts, cmd: Command) => createAgent(context(cmd), name, opts))
  agent
    .command('list')
    .description('every agent on the network')
    .action((_opts, cmd: Command) => listAgents(context(cmd)))
  agent
    .command('show <agent>')
    .description('an agent (handle, bare name or DID): identity, profile and record counts')
    .action((name: string, _opts, cmd: Command) => showAgent(context(cmd), name))

  murmur
    .command('prompt <agent> <text>')
    .description('give an agent a turn: wait for it, then print the answer, its tool calls and the model')
    .option('--timeout <s>', 'give up waiting after this many seconds', secondsArg, 120)
    .option('--no-wait', 'print the turn id and return at once')
    .action((name: string, text: string, opts, cmd: Command) => prompt(context(cmd), name, text, opts))
  murmur
    .command('turn <agent> <id>')
    .description('where a turn stands; a finished one printed as prompt prints it')
    .option('--wait', 'wait for it to finish')
    .option('--timeout <s>', 'with --wait: give up after this many seconds', secondsArg, 120)
    .action((name: string, id: string, opts, cmd: Command) => showTurn(context(cmd), name, id, opts))

  murmur
    .command('send <from> <to> <text>')
    .description('write an agent.comms.message from one agent to another')
    .option('--priority <n>', 'from 1 (lowest) to 5 (most urgent)', priorityArg)
    .action((from: string, to: string, text: string, opts, cmd: Command) =>
      send(context(cmd), from, to, text, opts),
    )
  murmur
    .command('request <from> <to> <task>')
    .description('write an agent.comms.request: ask one agent to carry out a task')
    .option('--priority <n>', 'from 1 (lowest) to 5 (most urgent)', priorityArg)
    .option('--deadline <datetime>', 'when the task must be done by', datetimeArg)
    .action((from: string, to: string, task: string, opts, cmd: Command) =>
      request(context(cmd), from, to, task, opts),
    )
  murmur
    .command('inbox <agent>')
    .description("an agent's inbox, oldest first")
    .option('--unread', 'only the items not yet acknowledged')
    .option('--limit <n>', 'at most this many items', positiveInt, 50)
    .option('--collection <nsid>', 'only this kind (agent.comms.message, …)')
    .option('--cursor <cursor>', 'continue from a previous listing')
    .action((name: string, opts, cmd: Command) => inbox(context(cmd), name, opts))

  murmur
    .command('tail')
    .description('follow the network: one line per event (Ctrl-C to stop)')
    .option(
      '--collection <nsid>',
      'only this collection, or a prefix like agent.comms.* (repeatable)',
      collect,
      [],
    )
    .option('--did <agent>', 'only this agent, by DID or handle (repeatable)', collect, [])
    .option('--cursor <time_us>', 'replay the events after this time (unix µs), then follow')
    .option('--limit <n>', 'exit after this many events', positiveInt)
    .action(async (opts, cmd: Command) => {
      const { tail } = await import('./tail.ts')
      await tail(context(cmd), opts)
    })

  murmur
    .command('export <agent>')
    .description("write an agent's repo to a CAR file")
    .requiredOption('-o, --output <file>', 'the file to write')
    .action(async (name: string, opts: { output: string }, cmd: Command) => {
      const { exportRepo } = await import('./car.ts')
      await exportRepo(context(cmd), name, opts.output)
    })
  murmur
    .command('verify <file>')
    .description("check a repo CAR: every hash, the MST, and the commit's signature")
    .option('--did <did>', 'the DID the repo must belong to (default: the one its commit names)')
    .option('--key <did:key>', "check the signature with this key instead of the DID's published one")
    .action(async (file: string, opts: { did?: string; key?: string }, cmd: Command) => {
      const { verifyCar } = await import('./car.ts')
      await verifyCar(context(cmd), file, opts)
    })

  murmur
    .command('demo')
    .description('a planner, a researcher and a writer coordinate on a goal, shown live from the firehose')
    .option('--goal <text>', 'what the planner is asked to get done', DEMO_GOAL)
    .option('--timeout <s>', 'give up waiting for the writer after this many seconds', secondsArg, 60)
    .action(async (opts: { goal: string; timeout: number }, cmd: Command) => {
      const { demo } = await import('./demo.ts')
      await demo(context(cmd), opts)
    })
  return murmur
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name
  return String(err)
}

function stack(err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e))
    e = e instanceof Error ? e.cause : undefined
  }
  return parts.join('\ncaused by: ')
}

/** Run the CLI on `argv` (as process.argv); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const debug = argv.slice(2, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--debug')
  try {
    await program().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed by commander (help, version, or a usage error).
      return err.exitCode === 0 ? 0 : EXIT_USAGE
    }
    process.stderr.write(`murmur: ${describe(err).replace(/\s*\n\s*/g, ' ')}\n`)
    if (debug) process.stderr.write(`${stack(err)}\n`)
    return err instanceof CliError ? err.exitCode : EXIT_FAILURE
  }
}
