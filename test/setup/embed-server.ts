/**
 * Global setup of the worker tests: the local embedding service on the loopback port that
 * vitest.config.ts chose (MURMUR_TEST_EMBED_PORT) and gave the Worker as MURMUR_EMBED_URL.
 */
import { startEmbedServer } from '../../src/memory/embed-server.ts'

export default async function setup(): Promise<() => Promise<void>> {
  const port = Number(process.env.MURMUR_TEST_EMBED_PORT)
  if (!Number.isInteger(port) || port <= 0)
    throw new Error('MURMUR_TEST_EMBED_PORT is not set (vitest.config.ts sets it)')
  const server = await startEmbedServer({ port })
  return () => server.close()
}
