/**
 * Shared by the bad-input tests: what a clean XRPC refusal looks like, and a
 * check that the refused call changed nothing.
 */
import { SELF } from 'cloudflare:test'
import { expect } from 'vitest'
import type { TokenClaims } from '../../src/auth/jwt.ts'
import { BASE, createAgent, xrpc } from './helpers.ts'

export type Agent = Awaited<ReturnType<typeof createAgent>>
export type Res = Awaited<ReturnType<typeof xrpc>>

export const TEST_SECRET = 'test-network-secret-0123456789abcdef0123456789'
export const NOTE = 'agent.memory.note'
export const UNKNOWN_DID = 'did:cf:aaaaaaaaaaaaaaaaaaaaaaaa'
export const note = (text: unknown, extra: Record<string, unknown> = {}) => ({
  $type: NOTE,
  text,
  createdAt: new Date().toISOString(),
  ...extra,
})

/** A clean XRPC failure: the status (or any 4xx), string error and message, no stack trace. */
export function expectFailure(res: Res, status?: number | number[], error?: string) {
  const where = JSON.stringify(res.body)
  if (status === undefined) {
    expect(res.status, where).toBeGreaterThanOrEqual(400)
    expect(res.status, where).toBeLessThan(500)
  } else if (Array.isArray(status)) expect(status, where).toContain(res.status)
  else expect(res.status, where).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/json/)
  expect(typeof res.body?.error, where).toBe('string')
  expect(typeof res.body?.message, where).toBe('string')
  expect(res.body.message).not.toMatch(/\n\s*at |\bat .*\.(ts|js|mjs):\d+|file:\/\/|node_modules/)
  if (error) expect(res.body.error).toBe(error)
}

/** The repo's head commit: any write, however partial, moves it. */
export async function head(did: string): Promise<{ cid: string; rev: string }> {
  const res = await xrpc('com.atproto.sync.getLatestCommit', { params: { did } })
  expect(res.status).toBe(200)
  return res.body
}

/** Every record of a collection, as `uri cid` lines. */
export async function records(did: string, collection = NOTE): Promise<string[]> {
  const res = await xrpc('com.atproto.repo.listRecords', { params: { repo: did, collection, limit: '100' } })
  expect(res.status).toBe(200)
  return res.body.records.map((r: { uri: string; cid: string }) => `${r.uri} ${r.cid}`)
}

/** Run `fn`, expect a clean failure, and check the repo did not move. */
export async function refused(
  did: string,
  fn: () => Promise<Res>,
  status?: number | number[],
  error?: string,
): Promise<Res> {
  const before = await head(did)
  const res = await fn()
  expectFailure(res, status, error)
  expect(await head(did)).toEqual(before)
  return res
}

/** A raw POST, for bodies and headers the xrpc helper will not send. */
export async function post(method: string, body: BodyInit, headers: Record<string, string>): Promise<Res> {
  const res = await SELF.fetch(`${BASE}/xrpc/${method}`, { method: 'POST', headers, body })
  const type = res.headers.get('content-type') ?? ''
  return {
    status: res.status,
    body: type.includes('json') ? await res.json() : await res.text(),
    headers: res.headers,
  }
}

export function claimsOf(jwt: string): TokenClaims {
  const part = jwt.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')
  return JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)))
}

/** Two agents; A has one note that every refusal must leave alone. */
export async function fixture() {
  const a = await createAgent()
  const b = await createAgent()
  const made = await xrpc('com.atproto.repo.createRecord', {
    token: a.accessJwt,
    body: { repo: a.did, collection: NOTE, record: note('the one that must survive') },
  })
  expect(made.status).toBe(200)
  return { a, b, noteRkey: made.body.uri.split('/').at(-1) as string, noteCid: made.body.cid as string }
}
