import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

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
              },
            },
          }),
        ],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts'] },
      },
    ],
  },
})
