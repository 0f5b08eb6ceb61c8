/** Shared steps of the task tests: write a comms record as an agent, and wait for the router. */
import { expect } from 'vitest'
import { xrpc } from './helpers.ts'

export type Agent = { did: string; accessJwt: string }

export const now = () => new Date().toISOString()

export async function write(agent: Agent, collection: string, record: object) {
  const res = await xrpc('com.atproto.repo.createRecord', {
    body: { repo: agent.did, collection, record: { $type: collection, sender: agent.did, ...record } },
    token: agent.accessJwt,
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body as { uri: string; cid: string }
}

export function request(from: Agent, fields: object = {}) {
  return write(from, 'agent.comms.request', { task: 'sum 2 and 3', createdAt: now(), ...fields })
}

export function respond(from: Agent, req: { uri: string; cid: string }, state: string, fields: object = {}) {
  return write(from, 'agent.comms.response', { request: req, state, createdAt: now(), ...fields })
}

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 15_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export async function getTask(uri: string) {
  return xrpc('agent.comms.getTask', { params: { uri } })
}

/** The task once the router has indexed it with `n` responses. */
export function taskWith(uri: string, n: number) {
  return until(
    () => getTask(uri),
    (r) => r.status === 200 && r.body.history.length === n,
    `${uri} with ${n} responses`,
  ).then((r) => r.body)
}
