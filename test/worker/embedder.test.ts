/**
 * The Worker reaches the offline embedding model: inside workerd (and inside a Durable Object),
 * `embedderFor(env)` picks the HTTP service at MURMUR_EMBED_URL that test/setup/embed-server.ts
 * runs on loopback, and gets 512-dimension unit vectors that carry meaning.
 */
import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  cosine,
  type EmbedEnv,
  embedderFor,
  OFFLINE_MODEL_DIMS,
  OFFLINE_MODEL_ID,
} from '../../src/memory/embedder.ts'

const embedEnv = env as unknown as EmbedEnv

const norm = (v: Float32Array) => Math.sqrt(cosine(v, v))

describe('embedderFor(env) in the Worker', () => {
  it('is the offline model over HTTP', () => {
    expect(embedEnv.MURMUR_EMBED_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    expect(embedEnv.AI).toBeUndefined()
    expect(embedderFor(embedEnv)?.model).toBe(OFFLINE_MODEL_ID)
  })

  it('gives deterministic 512-dimension unit vectors; a paraphrase is closer than an unrelated sentence', async () => {
    const embedder = embedderFor(embedEnv)!
    const texts = [
      'The staging deploy failed because the database volume ran out of disk space.',
      'The release to the test environment broke when its storage filled up.',
      'Our team lunch on Friday is at the Italian place around the corner.',
    ]
    const [a, b, c] = await embedder.embed(texts)
    for (const v of [a!, b!, c!]) {
      expect(v).toHaveLength(OFFLINE_MODEL_DIMS)
      expect(norm(v)).toBeCloseTo(1, 5)
    }
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!) + 0.1)
    const [again] = await embedder.embed([texts[0]!])
    expect(Array.from(again!)).toEqual(Array.from(a!))
  })

  it('works from inside a Durable Object', async () => {
    const stub = env.AGENTS.get(env.AGENTS.idFromName('embedder-test'))
    const result = await runInDurableObject(stub, async () => {
      const [x, y] = await embedderFor(embedEnv)!.embed(['How old are you?', 'What is your age?'])
      return { dims: x!.length, similarity: cosine(x!, y!) }
    })
    expect(result.dims).toBe(OFFLINE_MODEL_DIMS)
    expect(result.similarity).toBeGreaterThan(0.7)
  })
})
