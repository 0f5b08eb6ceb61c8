/**
 * The `murmur` CLI against a real `wrangler dev` network: every invocation is
 * a child process (`node bin/murmur.mjs … --network URL --token T`), as an
 * operator would run it. One network for the whole file.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type Network, startNetwork } from './network.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'murmur.mjs')

let net: Network
let dir: string
beforeAll(async () => {
  net = await startNetwork()
  dir = mkdtempSync(join(tmpdir(), 'murmur-cli-'))
})
afterAll(async () => {
  await net?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Run the CLI to completion (killed, and failed, after `timeoutMs`). */
function murmur(args: string[], opts: { network?: string; timeoutMs?: number } = {}): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, ...args, '--network', opts.network ?? net.url, '--token', net.adminToken],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`murmur ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Run and expect success; returns stdout. */
async function ok(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const res = await murmur(args, opts)
  if (res.code !== 0) throw new Error(`murmur ${args.join(' ')} exited ${res.code}:\n${res.stderr}`)
  return res.stdout
}

/** A failure is exactly one line on stderr, `murmur: …`, and no stack. */
function expectOneLineError(res: Run, code: number, pattern: RegExp) {
  expect(res.code).toBe(code)
  expect(res.stdout).toBe('')
  const lines = res.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^murmur: /)
  expect(lines[0]).toMatch(pattern)
  expect(res.stderr).not.toMatch(/\n\s+at /)
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

const agents: Record<string, { did: string; handle: string }> = {}

/** A CLI run that waits on a turn: the first one on a loaded machine can take a while. */
const TURN = { timeoutMs: 90_000 }

describe('murmur CLI', () => {
  it('creates agents (with a profile), lists and shows them', async () => {
    const created = JSON.parse(
      await ok([
        'agent',
        'create',
        'alice',
        '--instructions',
        'Answer in one sentence.',
        '--model',
        'offline',
        '--description',
        'A test agent',
        '--json',
      ]),
    )
    expect(created.did).toMatch(/^did:cf:/)
    expect(created.handle).toBe('alice.agents.test')
    expect(created.profile.uri).toBe(`at://${created.did}/agent.memory.profile/self`)
    agents.alice = created
    const profile = await fetch(
      `${net.url}/xrpc/com.atproto.repo.getRecord?repo=${created.did}&collection=agent.memory.profile&rkey=self`,
    ).then((r) => r.json() as Promise<any>)
    expect(profile.value).toMatchObject({
      displayName: 'alice',
      instructions: 'Answer in one sentence.',
      model: 'offline',
      description: 'A test agent',
    })

    // Text output: the DID and the handle; no profile without profile fields.
    const bob = await ok(['agent', 'create', 'bob'])
    const did = /did\s+(did:cf:\S+)/.exec(bob)?.[1]
    expect(did).toBeDefined()
    expect(bob).toMatch(/handle\s+bob\.agents\.test/)
    expect(bob).not.toMatch(/profile/)
    agents.bob = { did: did!, handle: 'bob.agents.test' }

    const list = JSON.parse(await ok(['agent', 'list', '--json']))
    expect(list.map((a: any) => a.handle).sort()).toEqual(['alice.agents.test', 'bob.agents.test'])
    expect(await ok(['agent', 'list'])).toMatch(/alice\.agents\.test\s+did:cf:\S+\s+active/)

    const show = await ok(['agent', 'show', 'alice'])
    expect(show).toContain(created.did)
    expect(show).toMatch(/instructions\s+Answer in one sentence\./)
    expect(show).toMatch(/agent\.memory\.profile\s+1/)
    const byDid = JSON.parse(await ok(['agent', 'show', agents.bob.did, '--json']))
    expect(byDid).toMatchObject({ did: agents.bob.did, handle: 'bob.agents.test', active: true })
    expect(byDid.signingKey).toMatch(/^did:key:z/)
  })

  it('creates an agent with skills and tools; show prints them and the model', async () => {
    const created = JSON.parse(
      await ok([
        'agent',
        'create',
        'carol',
        '--model',
        'offline',
        '--skills',
        'research, summarize',
        '--skills',
        'archive',
        '--tools',
        'remember,recall',
        '--json',
      ]),
    )
    agents.carol = created
    const show = await ok(['agent', 'show', 'carol'])
    expect(show).toMatch(/model\s+offline\n/)
    expect(show).toMatch(/skills\s+research, summarize, archive\n/)
    expect(show).toMatch(/tools\s+remember, recall\n/)
    const { profile } = JSON.parse(await ok(['agent', 'show', 'carol', '--json']))
    expect(profile).toMatchObject({
      displayName: 'carol',
      model: 'offline',
      skills: ['research', 'summarize', 'archive'],
      tools: ['remember', 'recall'],
    })
    // An empty list is every tool disabled.
    await ok(['agent', 'create', 'dave', '--tools', ''])
    expect(await ok(['agent', 'show', 'dave'])).toMatch(/tools\s+none\n/)
  })

  it('prompt runs a turn: the answer on stdout, tool calls and the model on stderr', async () => {
    const remember = await murmur(['prompt', 'carol', 'Remember that the launch code is 4242'], TURN)
    expect(remember.code, remember.stderr).toBe(0)
    expect(remember.stdout).toMatch(/^Done: remembered "the launch code is 4242" at at:\/\/did:cf:/)
    expect(remember.stdout.trimEnd().split('\n')).toHaveLength(1)
    expect(remember.stderr).toMatch(/^→ remember \{"text":"the launch code is 4242"\} → at:\/\//m)
    expect(remember.stderr).toMatch(/^model: offline scripted model · turn \w+$/m)

    const asked = await murmur(['prompt', 'carol', 'What is the launch code?'], TURN)
    expect(asked.code, asked.stderr).toBe(0)
    expect(asked.stdout).toMatch(/^From memory: (.|\n)*4242/)
    expect(asked.stderr).toMatch(/^→ recall \{"query":"What is the launch code\?"\}$/m)
    expect(asked.stderr).toMatch(/offline scripted model/)

    const json = JSON.parse(await ok(['prompt', 'carol', 'Remember that the sky is green', '--json'], TURN))
    expect(json.turn).toMatchObject({ source: 'prompt', state: 'done', attempts: 1 })
    expect(json.turn.note).toBe(`at://${agents.carol!.did}/agent.memory.note/${json.turn.id}`)
    expect(json.note.uri).toBe(json.turn.note)
    expect(json.note.value.text).toMatch(/^Asked: Remember that the sky is green\nAnswer: Done: /)
    expect(json.note.value.text).toMatch(/\nModel: offline scripted model$/)
    expect(json).toMatchObject({
      answer: expect.stringMatching(/^Done: remembered "the sky is green"/),
      toolCalls: [expect.stringMatching(/^remember \{"text":"the sky is green"\} → at:/)],
      model: 'offline scripted model',
    })

    // --no-wait: the id at once; `turn --wait` picks it up.
    const id = (await ok(['prompt', 'carol', 'good morning', '--no-wait'])).trim()
    expect(id).toMatch(/^\w+$/)
    const later = await murmur(['turn', 'carol', id, '--wait'], TURN)
    expect(later.code, later.stderr).toBe(0)
    expect(later.stdout).toBe('Noted: good morning\n')
    expect(later.stderr).toMatch(/^model: offline scripted model · turn \w+$/m)
    const queued = JSON.parse(await ok(['prompt', 'carol', 'good night', '--no-wait', '--json']))
    expect(queued.turn).toMatchObject({ id: expect.stringMatching(/^\w+$/), source: 'prompt' })
  })

  it('tail sees a message sent while it runs; the message reaches the inbox', async () => {
    // The cursor (µs, from before the tail starts) closes the gap between launching and connecting.
    const cursor = String((Date.now() - 1000) * 1000)
    const tail = murmur(
      [
        'tail',
        '--json',
        '--limit',
        '1',
        '--did',
        'alice',
        '--collection',
        'agent.comms.*',
        '--cursor',
        cursor,
      ],
      { timeoutMs: 45_000 },
    )
    const uri = (await ok(['send', 'alice', 'bob', 'hello from the CLI'])).trim()
    expect(uri).toMatch(new RegExp(`^at://${agents.alice!.did}/agent\\.comms\\.message/\\w+$`))

    const seen = await tail
    expect(seen.code).toBe(0)
    const lines = seen.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    const event = JSON.parse(lines[0]!)
    expect(event).toMatchObject({
      did: agents.alice!.did,
      kind: 'commit',
      commit: {
        operation: 'create',
        collection: 'agent.comms.message',
        rkey: uri.split('/').pop(),
        record: {
          sender: agents.alice!.did,
          recipient: agents.bob!.did,
          content: { $type: 'agent.comms.defs#textContent', kind: 'text', text: 'hello from the CLI' },
        },
      },
    })

    // The readable form of the same event, replayed.
    const human = await ok([
      'tail',
      '--limit',
      '1',
      '--did',
      agents.alice!.did,
      '--cursor',
      cursor,
      '--collection',
      'agent.comms.message',
    ])
    expect(human).toMatch(
      /alice\.agents\.test\s+\+ agent\.comms\.message \w+\s+→ bob\.agents\.test: hello from the CLI/,
    )

    // Delivery is asynchronous: poll the recipient's inbox.
    const item = await until(async () => {
      const { items } = JSON.parse(await ok(['inbox', 'bob', '--json']))
      return items.find((i: any) => i.uri === uri)
    }, 'the message in bob’s inbox')
    expect(item).toMatchObject({ sender: agents.alice!.did, verified: true, state: 'unread' })
    expect(await ok(['inbox', 'bob', '--unread'])).toMatch(
      /alice\.agents\.test\s+message\s+unread\s+→ bob\.agents\.test: hello from the CLI/,
    )
  })

  it('request writes an agent.comms.request that reaches the assignee', async () => {
    const { uri } = JSON.parse(
      await ok(['request', 'alice', 'bob', 'add 2 and 3', '--priority', '4', '--json']),
    )
    expect(uri).toMatch(/\/agent\.comms\.request\//)
    const item = await until(async () => {
      const { items } = JSON.parse(
        await ok(['inbox', agents.bob!.did, '--collection', 'agent.comms.request', '--json']),
      )
      return items.find((i: any) => i.uri === uri)
    }, 'the request in bob’s inbox')
    expect(item.record).toMatchObject({
      sender: agents.alice!.did,
      assignee: agents.bob!.did,
      task: 'add 2 and 3',
      priority: 4,
    })
  })

  it('exports a repo that verifies; a corrupted copy or the wrong key does not', async () => {
    const car = join(dir, 'alice.car')
    expect(await ok(['export', 'alice', '-o', car])).toContain(agents.alice!.did)
    expect(statSync(car).size).toBeGreaterThan(100)

    const out = await ok(['verify', car])
    expect(out).toMatch(new RegExp(`did\\s+${agents.alice!.did}`))
    expect(out).toMatch(/rev\s+\w{13}/)
    expect(out).toMatch(/agent\.comms\.message\s+1/)
    expect(out).toMatch(/agent\.comms\.request\s+1/)
    expect(out).toMatch(/agent\.memory\.profile\s+1/)
    expect(out.trimEnd().split('\n').at(-1)).toBe('verified')
    const json = JSON.parse(await ok(['verify', car, '--did', agents.alice!.did, '--json']))
    expect(json).toMatchObject({ verified: true, did: agents.alice!.did, records: 3 })

    const bytes = readFileSync(car)
    const bad = join(dir, 'corrupt.car')
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01
    writeFileSync(bad, bytes)
    expectOneLineError(await murmur(['verify', bad]), 1, /verification failed/)
    const debug = await murmur(['verify', bad, '--debug'])
    expect(debug.code).toBe(1)
    expect(debug.stderr).toMatch(/\n\s+at /)

    const bobKey = JSON.parse(await ok(['agent', 'show', 'bob', '--json'])).signingKey
    expectOneLineError(await murmur(['verify', car, '--key', bobKey]), 1, /InvalidSignature/)
    expectOneLineError(await murmur(['verify', car, '--did', agents.bob!.did]), 1, /verification failed/)
  })

  it('fails in one line: bad usage (2), unknown agent (1), unreachable network (1)', async () => {
    expectOneLineError(await murmur(['send', 'alice', 'bob']), 2, /missing required argument 'text'/)
    expectOneLineError(await murmur(['inbox', 'bob', '--limit', 'zero']), 2, /--limit/)
    expectOneLineError(await murmur(['frobnicate']), 2, /unknown command 'frobnicate'/)
    expectOneLineError(await murmur(['tail', '--cursor', 'yesterday']), 2, /--cursor/)
    expectOneLineError(await murmur(['export', 'alice']), 2, /--output/)
    expectOneLineError(await murmur(['agent', 'show', 'nobody']), 1, /unknown agent "nobody"/)
    expectOneLineError(await murmur(['send', 'alice', 'nobody', 'hi']), 1, /unknown agent "nobody"/)
    expectOneLineError(await murmur(['prompt', 'nobody', 'hi']), 1, /unknown agent "nobody"/)
    expectOneLineError(await murmur(['prompt', 'carol']), 2, /missing required argument 'text'/)
    expectOneLineError(await murmur(['prompt', 'carol', ' ']), 2, /the prompt text is empty/)
    expectOneLineError(await murmur(['prompt', 'carol', 'hi', '--timeout', 'soon']), 2, /--timeout/)
    expectOneLineError(await murmur(['turn', 'carol', 'nosuchturn']), 1, /TurnNotFound/)
    expectOneLineError(
      await murmur(['agent', 'create', 'alice']),
      1,
      /HandleNotAvailable: Handle already taken: alice\.agents\.test/,
    )
    const dead = `http://127.0.0.1:${await freePort()}`
    expectOneLineError(
      await murmur(['agent', 'list'], { network: dead }),
      1,
      /cannot reach the network at .*: is `npm start` running\?/,
    )
    expectOneLineError(await murmur(['tail'], { network: dead }), 1, /cannot reach the network/)
  })
})
