#!/usr/bin/env node
// Starts the network on workerd through wrangler dev, on 127.0.0.1 ($PORT, default 8787),
// and prints the URL once the server answers.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'

const port = Number(process.env.PORT || 8787)
const host = '127.0.0.1'
const url = `http://${host}:${port}`

// Local secrets: generated once into .dev.vars (which wrangler dev reads) unless set in the environment.
const envFile = new URL('../.dev.vars', import.meta.url).pathname
const existing = existsSync(envFile) ? readFileSync(envFile, 'utf8') : ''
for (const name of ['MURMUR_SECRET', 'MURMUR_ADMIN_TOKEN']) {
  if (process.env[name] || new RegExp(`^${name}=`, 'm').test(existing)) continue
  const value = randomBytes(32).toString('base64url')
  appendFileSync(envFile, `${name}=${value}\n`, { mode: 0o600 })
  // Shown once, when generated: the operator needs it for admin calls.
  if (name === 'MURMUR_ADMIN_TOKEN')
    console.log(`Generated a local admin token (kept in ${envFile}): ${value}`)
}

// MURMUR_* settings in the environment become Worker vars (over .dev.vars); extra arguments go to wrangler.
const vars = Object.entries(process.env)
  .filter(([k, v]) => k.startsWith('MURMUR_') && v)
  .flatMap(([k, v]) => ['--var', `${k}:${v}`])
const wrangler = new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname
const child = spawn(
  process.execPath,
  [
    wrangler,
    'dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--show-interactive-dev-session=false',
    ...vars,
    ...process.argv.slice(2),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
)
child.stdout.pipe(process.stdout)

let ready = false
const started = Date.now()
const poll = setInterval(async () => {
  try {
    const res = await fetch(`${url}/xrpc/_health`)
    if (res.ok && !ready) {
      ready = true
      clearInterval(poll)
      const { version } = await res.json()
      console.log(`\nMurmur ${version} is running at ${url}\n`)
    }
  } catch {
    if (Date.now() - started > 120_000) {
      clearInterval(poll)
      console.error('wrangler dev did not answer within 120 s')
    }
  }
}, 300)

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code) => process.exit(code ?? 0))
