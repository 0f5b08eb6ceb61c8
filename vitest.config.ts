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
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.jsonc' } })],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts'] },
      },
    ],
  },
})
