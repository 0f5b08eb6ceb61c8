/**
 * Where the CLI finds the network and the operator's admin token: flags first,
 * then the environment, then the `.dev.vars` that `npm start` writes.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { usage } from './errors.ts'

/** The repo's `.dev.vars`, beside package.json. */
export const DEV_VARS = fileURLToPath(new URL('../../.dev.vars', import.meta.url))

export function defaultNetwork(env: NodeJS.ProcessEnv = process.env): string {
  return `http://127.0.0.1:${env.PORT || 8787}`
}

/** Normalise `--network`: an http(s) URL without a trailing slash. */
export function networkUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usage(`--network must be a URL (http://host:port), got ${JSON.stringify(raw)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usage(`--network must be an http or https URL, got ${raw}`)
  return url.origin + url.pathname.replace(/\/+$/, '')
}

/** A `NAME=value` line from a dotenv-style file, or undefined. */
export function readVar(text: string, name: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!m || m[1] !== name) continue
    const value = m[2]!.trim().replace(/^(['"])(.*)\1$/, '$2')
    if (value) return value
  }
  return undefined
}

/** The admin token: `--token`, else MURMUR_ADMIN_TOKEN, else `.dev.vars`. */
export function adminToken(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag
  if (env.MURMUR_ADMIN_TOKEN) return env.MURMUR_ADMIN_TOKEN
  let text = ''
  try {
    text = readFileSync(DEV_VARS, 'utf8')
  } catch {}
  const token = readVar(text, 'MURMUR_ADMIN_TOKEN')
  if (token) return token
  throw usage(
    `no admin token: pass --token, set MURMUR_ADMIN_TOKEN, or run \`npm start\` once to write ${DEV_VARS}`,
  )
}
