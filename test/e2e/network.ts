/**
 * Starts a real `wrangler dev` network (through `npm start`'s script) on a free
 * loopback port with its own state directory, for tests that drive it over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Network {
  url: string
  adminToken: string
  secrets: Secrets
  port: number
  stateDir: string
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

const ROOT = join(import.meta.dirname, '..', '..')

export async function freePort(): Promise<number> {
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

export interface Secrets {
  MURMUR_SECRET: string
  MURMUR_ADMIN_TOKEN: string
}

/** `args`: extra wrangler dev arguments (an inspector port for profiling, say). */
type StartOptions = { env?: Record<string, string>; stateDir?: string; secrets?: Secrets; args?: string[] }

class EarlyExit extends Error {}

/**
 * Start a network; if wrangler exits before it answers (the free port was
 * taken between our probe and its bind, say), try again on another port.
 */
export async function startNetwork(opts: StartOptions = {}): Promise<Network> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts)
    } catch (err) {
      if (!(err instanceof EarlyExit) || attempt >= 3) throw err
    }
  }
}

async function startOnce(opts: StartOptions): Promise<Network> {
  const port = await freePort()
  // A restart on the same state must reuse the secrets: keys at rest are wrapped with them.
  const secrets = opts.secrets ?? {
    MURMUR_SECRET: randomBytes(32).toString('base64url'),
    MURMUR_ADMIN_TOKEN: randomBytes(24).toString('base64url'),
  }
  const adminToken = secrets.MURMUR_ADMIN_TOKEN
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'murmur-state-'))
  const child: ChildProcess = spawn(
    process.execPath,
    ['scripts/start.mjs', '--persist-to', stateDir, ...(opts.args ?? [])],
    {
      cwd: ROOT,
      env: { ...process.env, ...secrets, ...opts.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so stop() ends wrangler and workerd with it
    },
  )
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (out += d))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  while (!out.includes(`running at ${url}`)) {
    if (child.exitCode !== null) throw new EarlyExit(`network exited early:\n${out}`)
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL')
      throw new Error(`network did not start in time:\n${out}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    adminToken,
    secrets,
    port,
    stateDir,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r))
        try {
          process.kill(-child.pid, signal)
        } catch {}
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {}
      }
      if (!opts.stateDir) rmSync(stateDir, { recursive: true, force: true })
    },
  }
}

/** POST an XRPC procedure with a bearer token; anything but a 200 is thrown. */
export async function xrpcPost(url: string, method: string, body: unknown, token: string) {
  const res = await fetch(`${url}/xrpc/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const json = (await res.json()) as Record<string, any>
  if (res.status !== 200) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Create an account with the network's admin token. */
export async function createAccount(net: Network, handle: string, password = `${handle}-password`) {
  const body = await xrpcPost(
    net.url,
    'com.atproto.server.createAccount',
    { handle, password },
    net.adminToken,
  )
  return body as { did: string; handle: string; accessJwt: string; refreshJwt: string }
}
