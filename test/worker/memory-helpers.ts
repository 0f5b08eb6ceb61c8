/** Calls of agent.memory.* as an agent would make them. */
import { expect } from 'vitest'
import { xrpc } from './helpers.ts'

export type Agent = { did: string; accessJwt: string }
export type Hit = { uri: string; cid: string; score: number; value: Record<string, unknown> }

export async function remember(agent: Agent, record: Record<string, unknown>) {
  const res = await xrpc('agent.memory.remember', { token: agent.accessJwt, body: { record } })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body as { uri: string; cid: string }
}

export async function search(agent: Agent, q: string, params: Record<string, string | string[]> = {}) {
  const res = await xrpc('agent.memory.search', { token: agent.accessJwt, params: { q, ...params } })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body.results as Hit[]
}

export const note = (text: string, extra: object = {}) => ({
  $type: 'agent.memory.note',
  text,
  createdAt: new Date().toISOString(),
  ...extra,
})

export const fact = (subject: string, predicate: string, object: string, extra: object = {}) => ({
  $type: 'agent.memory.fact',
  subject,
  predicate,
  object,
  createdAt: new Date().toISOString(),
  ...extra,
})
