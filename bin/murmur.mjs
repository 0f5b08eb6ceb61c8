#!/usr/bin/env node
// The `murmur` CLI (src/cli/main.ts), run from its TypeScript source through tsx,
// which `npm install` brings in, as it does for the repo's other scripts.
let register
try {
  ;({ register } = await import('tsx/esm/api'))
} catch {
  process.stderr.write('murmur: tsx is not installed: run `npm install` in the murmur repo first\n')
  process.exit(1)
}
register()
const { run } = await import('../src/cli/main.ts')

// `murmur tail | head` closes stdout early: that is a normal way to stop.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const code = await run(process.argv)
process.exitCode = code
// Whatever might still hold the event loop (a keep-alive socket), the command is done.
setTimeout(() => process.exit(code), 1000).unref()
