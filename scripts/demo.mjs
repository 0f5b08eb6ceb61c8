#!/usr/bin/env node
// `npm run demo`: `murmur demo` (src/cli/demo.ts) against the running network (`npm start`, at
// $PORT or 8787), or, when none answers, against a network it starts for the run on a free
// loopback port with its own state and secrets, and stops afterwards. Arguments go to `murmur
// demo` (`--goal`, `--timeout`, `--json`); with `--network URL` it never starts one.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)

async function answers(url) {
  try {
    return (await fetch(`${url}/xrpc/_health`, { signal: AbortSignal.timeout(1000) })).ok
  } catch {
    return false
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function murmur(extra, env = process.env) {
  const child = spawn(process.execPath, [join(root, 'bin/murmur.mjs'), 'demo', ...extra, ...args], {
    stdio: 'inherit',
    env,
  })
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
}

const running = `http://127.0.0.1:${process.env.PORT || 8787}`
if (args.includes('--network')) process.exit(await murmur([]))
if (await answers(running)) process.exit(await murmur(['--network', running]))

// No network: start one for the demo.
const port = await freePort()
const url = `http://127.0.0.1:${port}`
const state = mkdtempSync(join(tmpdir(), 'murmur-demo-state-'))
const secrets = {
  MURMUR_SECRET: randomBytes(32).toString('base64url'),
  MURMUR_ADMIN_TOKEN: randomBytes(24).toString('base64url'),
}
console.log(`No network at ${running}: starting one for the demo at ${url} (run \`npm start\` to keep one).`)
const net = spawn(process.execPath, [join(root, 'scripts/start.mjs'), '--persist-to', state], {
  cwd: root,
  env: { ...process.env, ...secrets, PORT: String(port) },
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true, // its own process group: stopping it stops wrangler, workerd and the embedder
})
// wrangler's own output is shown only if the network fails.
let output = ''
net.stdout.on('data', (d) => (output += d))
net.stderr.on('data', (d) => (output += d))
const stop = () => {
  try {
    process.kill(-net.pid, 'SIGTERM')
  } catch {}
}
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    stop()
    process.exit(130)
  })
let code = 1
try {
  const deadline = Date.now() + 120_000
  while (!(await answers(url))) {
    if (net.exitCode !== null) throw new Error(`the network exited (${net.exitCode}) before it answered`)
    if (Date.now() > deadline) throw new Error('the network did not answer within 120 s')
    await new Promise((r) => setTimeout(r, 300))
  }
  // The token goes by environment, not argument: a command line is visible to every process.
  code = await murmur(['--network', url], { ...process.env, MURMUR_ADMIN_TOKEN: secrets.MURMUR_ADMIN_TOKEN })
} catch (err) {
  console.error(`${output.slice(-4000)}\ndemo: ${err.message}`)
} finally {
  stop()
  await new Promise((r) => setTimeout(r, 1500))
  try {
    process.kill(-net.pid, 'SIGKILL')
  } catch {}
  rmSync(state, { recursive: true, force: true })
}
process.exit(code)
