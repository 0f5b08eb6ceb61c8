#!/usr/bin/env node
// Starts the network on workerd through wrangler dev, on 127.0.0.1 ($PORT, default 8787),
// and prints the URL once the server answers. Unless MURMUR_EMBED_URL is set, it first starts
// the local embedding service (src/memory/embed-server.ts) on a free loopback port and hands
// its URL to the Worker; the service stops with the network.
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

// Memory's embeddings: the offline model, served beside wrangler dev, unless a service is configured
// (in the environment, .dev.vars or a --var argument).
const embedConfigured =
  Boolean(process.env.MURMUR_EMBED_URL) ||
  /^MURMUR_EMBED_URL=./m.test(existing) ||
  process.argv.slice(2).some((a) => a.startsWith('MURMUR_EMBED_URL:'))
let embed = null
let child = null
let stopping = false
let failed = false
if (!embedConfigured) {
  const server = new URL('../src/memory/embed-server.ts', import.meta.url).pathname
  embed = spawn(process.execPath, ['--import', 'tsx', server, '--port', '0', '--exit-with-parent'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let embedUrlSeen = false
  const embedUrl = await new Promise((resolve) => {
    let out = ''
    const timer = setTimeout(() => {
      console.error('the embedding service did not start within 60 s')
      embed.kill('SIGKILL')
      process.exit(1)
    }, 60_000)
    const onData = (chunk) => {
      out += chunk
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      embedUrlSeen = true
      embed.stdout.off('data', onData)
      process.stdout.write(out)
      embed.stdout.pipe(process.stdout)
      resolve(m[1])
    }
    embed.stdout.on('data', onData)
    embed.once('exit', (code, signal) => {
      if (embedUrlSeen) return
      process.stdout.write(out)
      console.error(`the embedding service exited before it listened (${signal ?? code})`)
      process.exit(1)
    })
  })
  process.env.MURMUR_EMBED_URL = embedUrl
  // Without it memory cannot embed: if the service dies, so does the network.
  embed.on('exit', (code, signal) => {
    if (stopping) return
    console.error(`the embedding service exited (${signal ?? code}); stopping`)
    stopping = true
    failed = true
    child?.kill('SIGTERM')
    setTimeout(() => process.exit(1), 5000).unref()
    if (!child || child.exitCode !== null) process.exit(1)
  })
}

// MURMUR_* settings and OPENAI_BASE_URL in the environment become Worker vars (over .dev.vars); extra
// arguments go to wrangler. API keys are not passed this way (a command line is visible to every
// process on the machine): put OPENAI_API_KEY or ANTHROPIC_API_KEY in .dev.vars.
const vars = Object.entries(process.env)
  .filter(
    ([k, v]) => ((k.startsWith('MURMUR_') && !k.startsWith('MURMUR_TEST_')) || k === 'OPENAI_BASE_URL') && v,
  )
  .flatMap(([k, v]) => ['--var', `${k}:${v}`])
const wrangler = new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname
child = spawn(
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

for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    stopping = true
    child.kill(signal)
    embed?.kill(signal)
  })
child.on('exit', (code) => {
  stopping = true
  const exit = () => process.exit(failed ? 1 : (code ?? 0))
  if (!embed || embed.exitCode !== null || embed.signalCode !== null) return exit()
  embed.once('exit', exit)
  embed.kill('SIGTERM')
  setTimeout(exit, 3000).unref()
})
