/**
 * The local embedding service (src/memory/embed-server.ts) over real loopback HTTP: the OpenAI
 * shape, HttpEmbedder against it, coalescing of concurrent requests, the cache, and bad input.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type EmbedServer,
  MAX_BODY_BYTES,
  MAX_INPUTS,
  MAX_TEXT_CHARS,
  startEmbedServer,
} from '../../src/memory/embed-server.ts'
import {
  cosine,
  decodeBase64Floats,
  embedderFor,
  HttpEmbedder,
  OFFLINE_MODEL_DIMS,
  OFFLINE_MODEL_ID,
} from '../../src/memory/embedder.ts'

let server: EmbedServer
beforeAll(async () => {
  server = await startEmbedServer({ port: 0 })
})
afterAll(() => server?.close())

const post = async (body: unknown, path = '/embeddings') => {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v))

describe('embed server', () => {
  it('listens on loopback and answers health and models', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    expect(server.port).toBeGreaterThan(0)
    const health = await fetch(`http://127.0.0.1:${server.port}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok', model: OFFLINE_MODEL_ID })
    const models = await fetch(`${server.url}/models`)
    expect(await models.json()).toMatchObject({
      object: 'list',
      data: [{ id: OFFLINE_MODEL_ID, object: 'model' }],
    })
  })

  it('answers in the OpenAI shape, as floats and as base64', async () => {
    const input = ['The cat sat on the mat.', 'Quarterly revenue grew by four percent.']
    const floats = await post({ model: OFFLINE_MODEL_ID, input })
    expect(floats.status).toBe(200)
    expect(floats.body).toMatchObject({
      object: 'list',
      model: OFFLINE_MODEL_ID,
      usage: { prompt_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    })
    expect(floats.body.usage.prompt_tokens).toBeGreaterThan(5)
    expect(floats.body.data).toHaveLength(2)
    for (const [i, d] of floats.body.data.entries()) {
      expect(d).toMatchObject({ object: 'embedding', index: i })
      expect(d.embedding).toHaveLength(OFFLINE_MODEL_DIMS)
      expect(norm(d.embedding)).toBeCloseTo(1, 4)
    }

    // The model may be omitted; a single string is one input.
    const b64 = await post({ input: input[1], encoding_format: 'base64' })
    expect(b64.status).toBe(200)
    expect(b64.body.data).toHaveLength(1)
    expect(typeof b64.body.data[0].embedding).toBe('string')
    const decoded = decodeBase64Floats(b64.body.data[0].embedding)
    expect(decoded).toHaveLength(OFFLINE_MODEL_DIMS)
    // float32 both ways: the same numbers.
    expect(Array.from(decoded)).toEqual(floats.body.data[1].embedding)
  })

  it('gives HttpEmbedder unit vectors in input order, and the same vector for the same text', async () => {
    const embedder = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    expect(embedder.model).toBe(OFFLINE_MODEL_ID)
    const texts = [
      'How old are you?',
      'What is your age?',
      'The weather is lovely today.',
      'How old are you?',
    ]
    const [a, b, c, a2] = await embedder.embed(texts)
    for (const v of [a!, b!, c!]) {
      expect(v).toBeInstanceOf(Float32Array)
      expect(v).toHaveLength(OFFLINE_MODEL_DIMS)
      expect(norm(v)).toBeCloseTo(1, 5)
    }
    expect(Array.from(a2!)).toEqual(Array.from(a!))
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.3)
    expect(await embedder.embed([])).toEqual([])
  })

  it('splits more than 64 texts into batches and keeps their order', async () => {
    const embedder = embedderFor({ MURMUR_EMBED_URL: server.url })!
    expect(embedder.model).toBe(OFFLINE_MODEL_ID)
    const texts = Array.from({ length: 150 }, (_, i) => `batch item ${i}: ${i % 2 ? 'apples' : 'rockets'}`)
    const vectors = await embedder.embed(texts)
    expect(vectors).toHaveLength(150)
    const [single] = await embedder.embed([texts[137]!])
    expect(cosine(single!, vectors[137]!)).toBeCloseTo(1, 5)
    expect(cosine(single!, vectors[136]!)).toBeLessThan(0.99)
  })

  it('reads whitespace runs as one space and cuts very long texts, so one request cannot stall it', async () => {
    const embedder = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    const [spaced, broken] = await embedder.embed(['first line second line', 'first line\n\n\tsecond   line'])
    expect(cosine(spaced!, broken!)).toBeCloseTo(1, 6)
    const sentence = 'The staging deploy failed because the volume ran out of disk space. '
    const huge = sentence.repeat(Math.ceil(900_000 / sentence.length)).slice(0, 900_000)
    const t0 = performance.now()
    const [long, head] = await embedder.embed([huge, huge.slice(0, MAX_TEXT_CHARS)])
    expect(performance.now() - t0).toBeLessThan(10_000)
    expect(cosine(long!, head!)).toBeCloseTo(1, 6)
  })

  it('coalesces concurrent requests into few model calls and answers each correctly', async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `concurrent request number ${i} about topic ${i * 7}`)
    const before = server.stats()
    const answers = await Promise.all(texts.map((t) => post({ input: t })))
    const after = server.stats()
    for (const a of answers) expect(a.status).toBe(200)
    // Far fewer model calls than requests: they were batched.
    expect(after.modelCalls - before.modelCalls).toBeLessThanOrEqual(5)
    expect(after.textsEmbedded - before.textsEmbedded).toBe(20)
    // Each answer is its own text's vector, as one sequential call computes it.
    const embedder = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    const reference = await embedder.embed(texts)
    expect(server.stats().cacheHits - after.cacheHits).toBe(20)
    for (const [i, a] of answers.entries()) {
      expect(cosine(Float32Array.from(a.body.data[0].embedding), reference[i]!)).toBeCloseTo(1, 5)
    }
  })

  it('refuses bad input with a 400 and a message, and an unknown model with a 404', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['[1, 2]', /JSON object/],
      [{}, /'input' is required/],
      [{ input: [] }, /empty/],
      [{ input: '' }, /empty string/],
      [{ input: 42 }, /string or an array of strings/],
      [{ input: ['ok', 7] }, /input\[1\].*not a string/],
      [{ input: [[1, 2, 3]] }, /not a string/],
      [{ input: Array.from({ length: MAX_INPUTS + 1 }, () => 'x') }, /at most 256/],
      [{ input: 'x', encoding_format: 'int8' }, /encoding_format/],
      [{ input: 'x'.repeat(MAX_BODY_BYTES + 10) }, /larger than/],
    ]
    for (const [body, message] of cases) {
      const res = await post(body)
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(res.body.error.type).toBe('invalid_request_error')
      expect(res.body.error.message).toMatch(message)
    }
    const unknown = await post({ model: 'text-embedding-3-small', input: 'x' })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toMatchObject({
      type: 'invalid_request_error',
      message: expect.stringMatching(/model/),
    })
    expect((await fetch(`${server.url}/embeddings`)).status).toBe(405)
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404)

    // Still up and embedding.
    const ok = await post({ input: 'still here' })
    expect(ok.status).toBe(200)
    expect(ok.body.data[0].embedding).toHaveLength(OFFLINE_MODEL_DIMS)
  })

  it('makes HttpEmbedder throw a clear error on a refusal or an unreachable service', async () => {
    const wrong = new HttpEmbedder({ url: server.url, model: 'no-such-model' })
    await expect(wrong.embed(['x'])).rejects.toThrow(/answered 404: The model 'no-such-model' does not exist/)
    const empty = new HttpEmbedder({ url: server.url, model: OFFLINE_MODEL_ID })
    await expect(empty.embed([''])).rejects.toThrow(/answered 400: 'input\[0\]' is an empty string/)
    const nowhere = new HttpEmbedder({
      url: 'http://127.0.0.1:1/v1',
      model: OFFLINE_MODEL_ID,
      timeoutMs: 2000,
    })
    await expect(nowhere.embed(['x'])).rejects.toThrow(/unreachable/)
  })
})

describe('embedderFor', () => {
  it('prefers Workers AI, then an HTTP service, else none', () => {
    const ai = { run: async () => ({ data: [] }) }
    expect(embedderFor({})).toBeNull()
    expect(embedderFor({ AI: ai })?.model).toBe('@cf/baai/bge-small-en-v1.5')
    expect(embedderFor({ AI: ai, MURMUR_EMBED_URL: 'http://x/v1' })?.model).toBe('@cf/baai/bge-small-en-v1.5')
    expect(embedderFor({ MURMUR_EMBED_URL: 'http://x/v1' })?.model).toBe(OFFLINE_MODEL_ID)
    expect(embedderFor({ MURMUR_EMBED_URL: 'http://x/v1', MURMUR_EMBED_MODEL: 'm' })?.model).toBe('m')
  })

  it('runs Workers AI in batches of at most 100 and normalises', async () => {
    const calls: number[] = []
    const ai = {
      run: async (_model: string, input: unknown) => {
        const { text } = input as { text: string[] }
        calls.push(text.length)
        return { data: text.map((_, i) => [3, 4, i]) }
      },
    }
    const vectors = await embedderFor({ AI: ai })!.embed(Array.from({ length: 250 }, (_, i) => `t${i}`))
    expect(calls).toEqual([100, 100, 50])
    expect(vectors).toHaveLength(250)
    expect(norm(vectors[0]!)).toBeCloseTo(1, 6)
    expect(vectors[0]![0]).toBeCloseTo(0.6, 6)
    const broken = { run: async () => ({ data: [[1, 2]] }) }
    await expect(embedderFor({ AI: broken })!.embed(['a', 'b'])).rejects.toThrow(/1 embeddings for 2 inputs/)
  })
})

describe('HttpEmbedder against other OpenAI-compatible services', () => {
  /** A stand-in service that answers each request with the next canned reply and records what it got. */
  async function fake(replies: { status?: number; body: string }[]) {
    const seen: { auth: string | undefined; body: any }[] = []
    const srv = createServer((req, res) => {
      let raw = ''
      req.on('data', (d) => (raw += d))
      req.on('end', () => {
        seen.push({ auth: req.headers.authorization, body: JSON.parse(raw) })
        const reply = replies.shift() ?? { status: 500, body: 'no more replies' }
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(reply.body)
      })
    })
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const { port } = srv.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}/v1/`, seen, close: () => new Promise((r) => srv.close(r)) }
  }

  it('reads float arrays and base64 in any index order, sends the key, and normalises', async () => {
    const b64 = Buffer.from(new Float32Array([0, 0, 2]).buffer).toString('base64')
    const svc = await fake([
      {
        body: JSON.stringify({
          data: [
            { index: 1, embedding: b64 },
            { index: 0, embedding: [3, 4, 0] },
          ],
        }),
      },
    ])
    try {
      const e = new HttpEmbedder({ url: svc.url, model: 'm-1', apiKey: 'sk-test' })
      const [a, b] = await e.embed(['a', 'b'])
      expect(Array.from(a!)).toEqual([Math.fround(0.6), Math.fround(0.8), 0])
      expect(Array.from(b!)).toEqual([0, 0, 1])
      expect(svc.seen[0]).toEqual({
        auth: 'Bearer sk-test',
        body: { model: 'm-1', input: ['a', 'b'], encoding_format: 'base64' },
      })
    } finally {
      await svc.close()
    }
  })

  it('throws a clear error on a malformed response or a failure status', async () => {
    const cases: [{ status?: number; body: string }, RegExp][] = [
      [{ body: 'not json' }, /malformed response: not JSON/],
      [{ body: '{"object":"list"}' }, /malformed response: no data array/],
      [{ body: '{"data":[{"embedding":[1]}]}' }, /1 embeddings for 2 inputs/],
      [{ body: '{"data":[{"embedding":[1]},{"embedding":"x"}]}' }, /embedding 1/],
      [{ body: '{"data":[{"embedding":[1]},{"embedding":[0]}]}' }, /embedding 1: embedding is zero/],
      [{ body: '{"data":[{"embedding":[1]},{"embedding":[1,2]}]}' }, /differ in length/],
      [{ body: '{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[1]}]}' }, /repeated index/],
      [{ status: 429, body: '{"error":{"message":"slow down"}}' }, /answered 429: slow down/],
      [{ status: 502, body: 'bad gateway' }, /answered 502: bad gateway/],
    ]
    const svc = await fake(cases.map(([reply]) => reply))
    try {
      const e = new HttpEmbedder({ url: svc.url, model: 'm' })
      for (const [, message] of cases) await expect(e.embed(['a', 'b'])).rejects.toThrow(message)
    } finally {
      await svc.close()
    }
  })

  it('gives up after its timeout', async () => {
    const srv = createServer(() => {}) // never answers
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const { port } = srv.address() as AddressInfo
    try {
      const e = new HttpEmbedder({ url: `http://127.0.0.1:${port}/v1`, model: 'm', timeoutMs: 200 })
      await expect(e.embed(['a'])).rejects.toThrow(/no answer within 200 ms/)
    } finally {
      srv.closeAllConnections()
      await new Promise((r) => srv.close(r))
    }
  })
})
