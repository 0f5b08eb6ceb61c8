import { fileURLToPath } from 'node:url'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'
import { freePort } from './test/e2e/network.ts'

// Chosen once: a config loaded again (in a child process, say) keeps the port the service listens on.
process.env.MURMUR_TEST_EMBED_PORT ||= String(await freePort())
/**
 * pi-ai's env-api-keys.js probes for Node at load (`process.versions.node`) and then imports
 * node:fs, node:os and node:path dynamically. Inside the pool (nodejs_compat) that probe succeeds
 * and the import crashes workerd (a segfault). The runtime never reads keys from the environment
 * (it passes them explicitly), so the tests' bundle drops the probe. Deployed Workers don't load
 * through Vite and have no `process` to probe.
 */
const PI_NODE_PROBE =
  'if (typeof process !== "undefined" && (process.versions?.node || process.versions?.bun)) {'
const piNoNodeProbe = {
  name: 'pi-ai-no-node-probe',
  transform(code: string, id: string) {
    if (!id.includes('@mariozechner/pi-ai/dist/env-api-keys.js')) return null
    if (!code.includes(PI_NODE_PROBE)) throw new Error('pi-ai env-api-keys.js changed: revisit piNoNodeProbe')
    return code.replace(PI_NODE_PROBE, 'if (false) {')
  },
}

const UNUSED_SDK = fileURLToPath(new URL('./src/agent/unused-sdk.js', import.meta.url))
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
        // wrangler.jsonc's `alias` (pi-ai's unused Mistral and Google SDKs) is wrangler's bundler's;
        // the pool bundles with Vite, so it needs the same aliases here.
        resolve: {
          alias: {
            '@mistralai/mistralai': UNUSED_SDK,
            '@google/genai': UNUSED_SDK,
          },
        },
        plugins: [
          piNoNodeProbe,
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
