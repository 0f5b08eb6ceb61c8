import { createServer } from 'node:net'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

/** A free loopback port, for the embedding service the worker tests reach (test/setup/embed-server.ts). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

// Chosen once: a config loaded again (in a child process, say) keeps the port the service listens on.
process.env.MURMUR_TEST_EMBED_PORT ||= String(await freePort())
const EMBED_URL = `http://127.0.0.1:${process.env.MURMUR_TEST_EMBED_PORT}/v1`

export default defineConfig({
  test: {
    projects: [
      {
        // The pure atproto core: runtime-agnostic, so it runs in Node where the
        // reference implementation (@atproto/repo) can cross-check it.
        test: { name: 'core', include: ['test/core/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
      },
      {
        // Real `wrangler dev` processes, driven over loopback HTTP by real clients.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.jsonc' },
            // Test-only secrets; real networks get theirs from .dev.vars or Worker secrets.
            miniflare: {
              bindings: {
                MURMUR_SECRET: 'test-network-secret-0123456789abcdef0123456789',
                MURMUR_ADMIN_TOKEN: 'test-admin-token',
                MURMUR_EMBED_URL: EMBED_URL,
              },
            },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          // The offline embedding model, served on loopback at MURMUR_EMBED_URL. It embeds ~70
          // sentences a second, so tests that write many memories need more than the default 5 s.
          globalSetup: ['test/setup/embed-server.ts'],
          testTimeout: 30_000,
        },
      },
    ],
  },
})
