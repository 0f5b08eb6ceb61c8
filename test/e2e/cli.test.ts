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
async function ok(args: string[]): Promise<string> {
  const res = await murmur(args)
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
