/**
 * A real provider path end to end: `wrangler dev` with OPENAI_BASE_URL pointed
 * at a loopback server that speaks the OpenAI chat-completions API as pi-ai's
 * `openai-completions` provider calls it (streamed SSE, tool calls, usage),
 * playing a tiny deterministic model: with no tool result yet it calls
 * `remember` with what the user asked to remember; after the result it says
 * "Saved.". The server records every request, so the test checks what the
 * runtime sent (system prompt, pinned context, tools, key) and what it made of
 * the answers (the remembered note, the turn's note), for a prompted turn, an
 * inbox-triggered turn, and a provider that answers HTTP 500 (retried, then
 * failed with the provider's error).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFailed } from 'vitest'
import { createAccount, type Network, startNetwork, xrpcPost } from './network.ts'

/** A made-up key: it must reach the provider as the bearer token and nowhere else. */
const API_KEY = `sk-murmur-test-${Math.random().toString(36).slice(2)}`
const MODEL = 'tiny-test'
const INSTRUCTIONS = 'You are a careful archivist.'

type Json = Record<string, any>

/** One request as the loopback provider received it. */
interface Seen {
  at: string
  method: string
  path: string
  authorization: string | undefined
  raw: string
  body: Json
  /** The agent the request is for, read from the pinned "You are ... (did:...)" line. */
  did: string | undefined
  system: string
  /** The first user message's text. */
  user: string
  tools: string[]
  toolResults: { tool_call_id: string; content: string }[]
}

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((c) => (typeof c?.text === 'string' ? c.text : '')).join('')
      : ''

function parse(req: IncomingMessage, raw: string): Seen {
  let body: Json = {}
  try {
    body = JSON.parse(raw) as Json
  } catch {}
  const messages: Json[] = Array.isArray(body.messages) ? body.messages : []
  const system = textOf(messages.find((m) => m.role === 'system')?.content)
  return {
    at: new Date().toISOString(),
    method: req.method ?? '',
    path: req.url ?? '',
    authorization: req.headers.authorization,
    raw,
    body,
    did: /\((did:[a-z0-9]+:[A-Za-z0-9._:%-]+)\) on the Murmur network/.exec(system)?.[1],
    system,
    user: textOf(messages.find((m) => m.role === 'user')?.content),
    tools: (Array.isArray(body.tools) ? body.tools : []).map((t: Json) => t.function?.name),
    toolResults: messages
      .filter((m) => m.role === 'tool')
      .map((m) => ({ tool_call_id: m.tool_call_id, content: textOf(m.content) })),
  }
}

/** The tiny model: the SSE chunks of its answer to one request. */
function answer(seen: Seen, n: number): Json[] {
  const base = { id: `chatcmpl-${n}`, object: 'chat.completion.chunk', created: 1, model: MODEL }
  const usage = { ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 } }
  if (seen.toolResults.length === 0) {
    const what = /remember that (.*)$/i.exec(seen.user)?.[1]?.trim() || seen.user
    const args = JSON.stringify({ text: what })
    const call = (delta: Json, finish: string | null = null) => ({
      ...base,
      choices: [{ index: 0, delta, finish_reason: finish }],
    })
    return [
      call({ role: 'assistant', content: null }),
      // The arguments arrive in two pieces, as real servers stream them.
      call({
        tool_calls: [
          {
            index: 0,
            id: `call_${n}`,
            type: 'function',
            function: { name: 'remember', arguments: args.slice(0, 5) },
          },
        ],
      }),
      call({ tool_calls: [{ index: 0, function: { arguments: args.slice(5) } }] }),
      call({}, 'tool_calls'),
      usage,
    ]
  }
  const say = (delta: Json, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish }],
  })
  return [say({ role: 'assistant', content: 'Sav' }), say({ content: 'ed.' }), say({}, 'stop'), usage]
}

async function until<T>(
  what: string | (() => string),
  ms: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const got = await probe()
    if (got !== undefined) return got
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('an OpenAI-compatible provider (OPENAI_BASE_URL)', () => {
  let net: Network | undefined
  let server: Server | undefined
  const seen: Seen[] = []
  /** Agents whose every request the provider fails with HTTP 500. */
  const broken = new Set<string>()
  const envDir = mkdtempSync(join(tmpdir(), 'murmur-openai-'))
  afterAll(async () => {
    await net?.stop()
    server?.closeAllConnections()
    await new Promise((r) => (server ? server.close(r) : r(undefined)))
    rmSync(envDir, { recursive: true, force: true })
  })

  it('runs prompted and inbox turns through it, and fails a turn visibly when it errors', async () => {
    onTestFailed(() => {
      const out = net?.output() ?? ''
      const requests = seen.map(
        (s) => `${s.at} ${s.did} results:${s.toolResults.length} ${s.user.slice(0, 50)}`,
      )
      console.log(`provider saw ${seen.length} requests:\n${requests.join('\n')}`)
      // wrangler dev rebuilds when a source file changes (someone editing the tree): the reload drops
      // the running consumer and the Queue's delayed retries, so a turn can be left running forever.
      if (out.includes('Reloading local server'))
        console.log('NOTE: wrangler dev reloaded the Worker during the test (a source file changed)')
      const quiet = out
        .split('\n')
        .filter((l) => !/GET \/xrpc\/\S+ 200/.test(l))
        .join('\n')
      console.log(`network output (tail, without GET 200s):\n${quiet.slice(-6000)}`)
    })
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = ''
      req.setEncoding('utf8')
      req.on('data', (d: string) => (raw += d))
      req.on('end', () => {
        const s = parse(req, raw)
        seen.push(s)
        if (req.method !== 'POST' || !req.url?.endsWith('/v1/chat/completions')) {
          res.writeHead(404, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
          return
        }
        if (s.did && broken.has(s.did)) {
          res.writeHead(500, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { message: 'the model server fell over', type: 'server_error' } }))
          return
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        for (const chunk of answer(s, seen.length)) res.write(`data: ${JSON.stringify(chunk)}\n\n`)
        res.end('data: [DONE]\n\n')
      })
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    // The key goes in an env file (as an operator's .dev.vars would hold it), not on a command line.
    const envFile = join(envDir, 'provider.env')
    writeFileSync(envFile, `OPENAI_API_KEY=${API_KEY}\n`, { mode: 0o600 })
    net = await startNetwork({
      env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, MURMUR_MODEL: MODEL },
      args: ['--env-file', envFile],
    })
    const { url, adminToken } = net
    const get = async (method: string, params: Record<string, string>) => {
      const res = await fetch(`${url}/xrpc/${method}?${new URLSearchParams(params)}`, {
        headers: { authorization: `Bearer ${adminToken}` },
        signal: AbortSignal.timeout(10_000),
      })
      const body = (await res.json()) as Json
      expect(res.status, `${method}: ${JSON.stringify(body)}`).toBe(200)
      return body
    }
    const post = (method: string, body: Json) => xrpcPost(url, method, body, adminToken)
    const putProfile = (repo: string, record: Json) =>
      post('com.atproto.repo.putRecord', {
        repo,
        collection: 'agent.memory.profile',
        rkey: 'self',
        record: { $type: 'agent.memory.profile', ...record, createdAt: new Date().toISOString() },
      })
    const prompt = async (repo: string, text: string) =>
      ((await post('agent.runtime.prompt', { repo, text })) as { turn: string }).turn
    const settled = (repo: string, turn: string, ms: number) => {
      let last: Json = {}
      return until(
        () => `turn ${turn} to settle (last seen: ${JSON.stringify(last)})`,
        ms,
        async () => {
          last = (await get('agent.runtime.getTurn', { repo, turn })).turn as Json
          return last.state === 'done' || last.state === 'failed' ? last : undefined
        },
      )
    }

    const archivist = await createAccount(net, 'archivist')
    await putProfile(archivist.did, {
      displayName: 'Archivist',
      instructions: INSTRUCTIONS,
      tools: ['remember', 'recall'],
    })
    // A profile with no `tools`: all of them are offered. Its provider answers 500 every time.
    const unlucky = await createAccount(net, 'unlucky')
    broken.add(unlucky.did)
    await putProfile(unlucky.did, { instructions: 'You are unlucky.' })
    const sender = await createAccount(net, 'sender') // no profile: a mailbox, never wakes

    // The failing turn takes longest (three attempts, 2 s then 4 s apart): start it first.
    const t0 = Date.now()
    const doomed = prompt(unlucky.did, 'Remember that nothing works today')
    const turn = await prompt(archivist.did, 'Remember that the archive opens at nine')
    const done = await settled(archivist.did, turn, 30_000)
    expect(done.state, JSON.stringify(done)).toBe('done')

    // The remembered note, with the text the model chose, written by the remember tool.
    const notes = async () =>
      (
        await get('com.atproto.repo.listRecords', {
          repo: archivist.did,
          collection: 'agent.memory.note',
          limit: '100',
        })
      ).records as { uri: string; value: Json }[]
    const remembered = (await notes()).find((r) => r.value.text === 'the archive opens at nine')
    expect(remembered, JSON.stringify(await notes())).toBeDefined()
    expect(remembered!.value.tags).toEqual(['remembered'])

    // The turn's note: the question, the answer, the call with the uri it wrote, the model's label.
    expect(done.note).toBe(`at://${archivist.did}/agent.memory.note/${turn}`)
    const note = (
      await get('com.atproto.repo.getRecord', {
        repo: archivist.did,
        collection: 'agent.memory.note',
        rkey: turn,
      })
    ).value as Json
    expect(note.text).toMatch(/^Asked: Remember that the archive opens at nine\nAnswer: Saved\.\n/)
    expect(note.text).toContain(`- remember {"text":"the archive opens at nine"} → ${remembered!.uri}`)
    expect(note.text.endsWith(`Model: openai-compatible:${MODEL}`)).toBe(true)

    // What the runtime sent: two calls, the second carrying the tool's result.
    const mine = () => seen.filter((s) => s.did === archivist.did)
    expect(mine()).toHaveLength(2)
    const [first, second] = mine() as [Seen, Seen]
    for (const s of [first, second]) {
      expect(s.method).toBe('POST')
      expect(s.path).toBe('/v1/chat/completions')
      expect(s.body.model).toBe(MODEL)
      expect(s.body.stream).toBe(true)
      expect(s.authorization).toBe(`Bearer ${API_KEY}`)
      expect(s.system.startsWith(`${INSTRUCTIONS}\n\n`)).toBe(true)
      expect(s.system).toContain(`You are Archivist (${archivist.did}) on the Murmur network.`)
      expect(s.user).toBe('Remember that the archive opens at nine')
      expect(s.tools).toEqual(['remember', 'recall'])
      // Local servers reject OpenAI-only fields (models.ts's compat).
      expect(s.body.store).toBeUndefined()
      expect(s.body.messages.some((m: Json) => m.role === 'developer')).toBe(false)
    }
    expect(first.toolResults).toEqual([])
    expect(second.toolResults).toEqual([
      {
        tool_call_id: expect.stringMatching(/^call_/),
        content: `remembered "the archive opens at nine" at ${remembered!.uri}`,
      },
    ])
    const sentCall = second.body.messages.find((m: Json) => m.role === 'assistant')?.tool_calls?.[0]
    expect(sentCall?.function).toEqual({
      name: 'remember',
      arguments: '{"text":"the archive opens at nine"}',
    })

    // An inbox-triggered turn: a message from an agent without a profile wakes the archivist.
    const message = await post('com.atproto.repo.createRecord', {
      repo: sender.did,
      collection: 'agent.comms.message',
      record: {
        $type: 'agent.comms.message',
        sender: sender.did,
        recipient: archivist.did,
        content: {
          $type: 'agent.comms.defs#textContent',
          kind: 'text',
          text: 'Remember that the reading room closes at five',
        },
        createdAt: new Date().toISOString(),
      },
    })
    const woke = await until('the inbox turn to reach the provider', 30_000, async () =>
      mine().find((s) => s.user.startsWith('Message from ')),
    )
    expect(woke.user).toBe(
      `Message from ${sender.did} (${message.uri}): Remember that the reading room closes at five`,
    )
    expect(woke.authorization).toBe(`Bearer ${API_KEY}`)
    expect(woke.tools).toEqual(['remember', 'recall'])
    // The pinned context now holds the first turn (the thread) and what memory has on the message.
    expect(woke.system.startsWith(`${INSTRUCTIONS}\n\n`)).toBe(true)
    expect(woke.system).toContain(
      'Your latest turns, oldest first:\nAsked: Remember that the archive opens at nine',
    )
    expect(woke.system).toContain(`Model: openai-compatible:${MODEL}`)
    expect(woke.system).toMatch(/From your memory:\n- /)
    const wokeNote = await until('the inbox turn to remember', 30_000, async () =>
      (await notes()).find((r) => r.value.text === 'the reading room closes at five'),
    )
    await until('the inbox turn to finish', 30_000, async () =>
      (await notes()).find((r) => r.value.tags?.includes('turn') && r.value.text.includes(wokeNote.uri)),
    )
    expect(mine()).toHaveLength(4)

    // The failing provider: retried by the queue, then failed with the provider's error, no note.
    const lost = await settled(unlucky.did, await doomed, 45_000)
    console.log(`provider 500: turn ${lost.state} after ${Date.now() - t0} ms, attempts ${lost.attempts}`)
    expect(lost.state).toBe('failed')
    expect(lost.attempts).toBe(3)
    expect(lost.error).toMatch(/500/)
    expect(lost.error).toMatch(/the model server fell over/)
    expect(lost.note).toBeUndefined()
    const theirs = seen.filter((s) => s.did === unlucky.did)
    // One request per attempt: the Queue retries with backoff, the SDK does not retry inside a call.
    expect(theirs.length).toBe(lost.attempts)
    console.log(`provider 500: ${theirs.length} requests`)
    expect(theirs[0]!.system.startsWith('You are unlucky.\n\n')).toBe(true)
    expect(theirs[0]!.tools.sort()).toEqual(
      [
        'broadcast',
        'forget',
        'get_record',
        'handoff',
        'list_agents',
        'recall',
        'remember',
        'request_task',
        'send_message',
        'update_task',
      ].sort(),
    )

    // Every request went to the one route, and the key travelled only as the bearer token.
    expect(
      seen.every((s) => s.path === '/v1/chat/completions' && s.authorization === `Bearer ${API_KEY}`),
    ).toBe(true)
    expect(seen.some((s) => s.raw.includes(API_KEY))).toBe(false)
    // Nor is it in any record, turn or log line of the agents.
    for (const who of [archivist.did, unlucky.did, sender.did]) {
      const car = await fetch(`${url}/xrpc/com.atproto.sync.getRepo?did=${who}`)
      expect(car.status).toBe(200)
      expect(Buffer.from(await car.arrayBuffer()).includes(API_KEY)).toBe(false)
    }
    expect(JSON.stringify([done, lost])).not.toContain(API_KEY)
    expect(net.output()).not.toContain(API_KEY)
  })
})
