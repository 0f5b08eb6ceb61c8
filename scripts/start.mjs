#!/usr/bin/env node
// Starts the network on workerd through wrangler dev, on 127.0.0.1 ($PORT, default 8787),
// and prints the URL once the server answers.
import { spawn } from 'node:child_process'

const port = Number(process.env.PORT || 8787)
const host = '127.0.0.1'
const url = `http://${host}:${port}`

const child = spawn(
  'npx',
  ['wrangler', 'dev', '--ip', host, '--port', String(port), '--show-interactive-dev-session=false'],
  { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
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
