#!/usr/bin/env node
// Starts the network on workerd through wrangler dev, on 127.0.0.1 ($PORT, default 8787),
// and prints the URL once the server answers.
import { spawn } from 'node:child_process'

const port = Number(process.env.PORT || 8787)
const host = '127.0.0.1'
const url = `http://${host}:${port}`

// MURMUR_* settings in the environment become Worker vars; extra arguments go to wrangler.
const vars = Object.entries(process.env)
  .filter(([k, v]) => k.startsWith('MURMUR_') && k !== 'MURMUR_SECRET' && k !== 'MURMUR_ADMIN_TOKEN' && v)
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
