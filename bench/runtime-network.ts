/**
 * The runtime bench's plumbing on a real `wrangler dev`: accounts and
 * answering agents, messages, and what the network shows with when: the
 * Jetstream stream (`/subscribe`) and the inbox push sockets, gathered in
 * an `Observed` that waiters re-check on every event.
 */
import WebSocket from 'ws'
import { formatTid, parseTid } from '../src/atproto/syntax/tid.ts'
import { createAccount, type Network, xrpcPost } from '../test/e2e/network.ts'
import { sleep, wall } from './lib.ts'

export const TIMEOUT_MS = 10_000
export const QUESTION = 'What is the launch date?'
export const ANSWER = 'Answer: '
export const MESSAGE = 'agent.comms.message'
export const NOTE = 'agent.memory.note'
/** What every answering agent knows: recall finds these three. */
const SEEDS = [
  'The launch date is June 3, 2027.',
  'The launch event is in Lisbon, at the river warehouse.',
  'The launch budget is 40,000 euros, approved by finance.',
]

export type Account = { did: string; accessJwt: string }
type Rec = Record<string, unknown>

export interface Reply {
  /** When the reply's commit reached the stream. */
  t: number
  uri: string
  turn: string
  /** When the turn was created (the turn id's timestamp, ms). */
  created: number
  /** Length of the answer's text. */
  chars: number
  claimed: boolean
}

/** What the stream and the inbox sockets have shown, with when; waiters re-check on every event. */
export class Observed {
  readonly times = new Map<string, number>()
  readonly replies = new Map<string, Reply[]>()
  private readonly listeners = new Set<() => void>()

  mark(key: string, t: number) {
    if (!this.times.has(key)) this.times.set(key, t)
    this.notify()
  }

  reply(did: string, r: Reply) {
    const list = this.replies.get(did) ?? []
    list.push(r)
    this.replies.set(did, list)
    this.notify()
  }

  /** The first reply of `did` whose turn was created at or after `since`, claimed for the caller. */
  claim(did: string, since: number): Reply | undefined {
    const hit = this.replies.get(did)?.find((r) => !r.claimed && r.created >= Math.floor(since) - 1)
    if (hit) hit.claimed = true
    return hit
  }

  waitFor<T>(check: () => T | undefined, ms: number): Promise<T | undefined> {
    const now = check()
    if (now !== undefined) return Promise.resolve(now)
    return new Promise((resolve) => {
      const done = (v: T | undefined) => {
        clearTimeout(timer)
        this.listeners.delete(listener)
        resolve(v)
      }
      const listener = () => {
        const v = check()
        if (v !== undefined) done(v)
      }
      const timer = setTimeout(() => done(undefined), ms)
      this.listeners.add(listener)
    })
  }

  private notify() {
    for (const l of [...this.listeners]) l()
  }
}

/** The turn that wrote a reply: its send_message is the turn's second call, at the turn id + 2 µs. */
function turnOfReply(rkey: string): { turn: string; created: number } {
  const { timestampUs, clockId } = parseTid(rkey)
  return { turn: formatTid(timestampUs - 2, clockId), created: Math.floor((timestampUs - 2) / 1000) }
}

export async function follow(net: Network, seen: Observed): Promise<WebSocket> {
  const url = `${net.url.replace('http', 'ws')}/subscribe?wantedCollections=${MESSAGE}&wantedCollections=${NOTE}`
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: TIMEOUT_MS })
  ws.on('message', (data) => {
    const t = wall()
    const ev = JSON.parse(String(data)) as {
      did: string
      kind: string
      commit?: { operation: string; collection: string; rkey: string; record?: Rec }
    }
    const c = ev.commit
    if (ev.kind !== 'commit' || !c || c.operation !== 'create') return
    const uri = `at://${ev.did}/${c.collection}/${c.rkey}`
    const text = (c.record?.content as Rec | undefined)?.text
    if (typeof text === 'string' && text.startsWith(ANSWER))
      seen.reply(ev.did, { t, uri, ...turnOfReply(c.rkey), chars: text.length, claimed: false })
    seen.mark(`fh:${uri}`, t)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return ws
}

export async function inboxSocket(net: Network, agent: Account, seen: Observed): Promise<WebSocket> {
  const ws = new WebSocket(`${net.url.replace('http', 'ws')}/xrpc/agent.comms.subscribeInbox`, {
    headers: { authorization: `Bearer ${agent.accessJwt}` },
    perMessageDeflate: false,
    handshakeTimeout: TIMEOUT_MS,
  })
  ws.on('message', (data) => {
    const t = wall()
    const item = JSON.parse(String(data)) as { uri?: string }
    if (item.uri) seen.mark(`inbox:${item.uri}`, t)
  })
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  return ws
}

export async function send(net: Network, from: Account, to: Account, text: string): Promise<string> {
  const record = {
    $type: MESSAGE,
    sender: from.did,
    recipient: to.did,
    content: { $type: 'agent.comms.defs#textContent', kind: 'text', text },
    createdAt: new Date().toISOString(),
  }
  const out = await xrpcPost(
    net.url,
    'com.atproto.repo.createRecord',
    { repo: from.did, collection: MESSAGE, record },
    from.accessJwt,
  )
  return out.uri as string
}

/**
 * An account, retried under a fresh handle if the Worker restarts mid-request
 * (wrangler dev reloads when a source file changes under it).
 */
export async function account(net: Network, handle: string): Promise<Account> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await createAccount(net, attempt ? `${handle}r${attempt}` : handle)
    } catch (err) {
      if (attempt >= 3) throw err
      await sleep(2000)
    }
  }
}

/** An agent that wakes: a profile with no skills, on the offline script; three notes in its memory. */
export async function agentWithProfile(net: Network, handle: string): Promise<Account> {
  const a = await account(net, handle)
  const record = {
    $type: 'agent.memory.profile',
    displayName: handle,
    model: 'offline',
    createdAt: new Date().toISOString(),
  }
  const createdAt = new Date().toISOString()
  for (let attempt = 0; ; attempt++) {
    try {
      await xrpcPost(
        net.url,
        'com.atproto.repo.putRecord',
        { repo: a.did, collection: 'agent.memory.profile', rkey: 'self', record },
        a.accessJwt,
      )
      for (const text of SEEDS) {
        const note = { $type: NOTE, text, tags: ['seed'], createdAt }
        await xrpcPost(
          net.url,
          'com.atproto.repo.createRecord',
          { repo: a.did, collection: NOTE, record: note },
          a.accessJwt,
        )
      }
      return a
    } catch (err) {
      if (attempt >= 3) throw err
      await sleep(2000)
    }
  }
}

/**
 * Once the turn's note is written, delete it (outside the timed window), so
 * every turn recalls the same seeded notes. Kept, the notes compound: a
 * note records the answer, which quotes the notes recall found, so the
 * scripted answer grows about threefold a turn and passes the message's
 * 10,000 graphemes at an agent's fifth or sixth question (send_message then
 * fails and the question goes unanswered).
 */
export async function forgetTurn(net: Network, seen: Observed, agent: Account, turn: string) {
  await seen.waitFor(() => seen.times.get(`fh:at://${agent.did}/${NOTE}/${turn}`), 5000)
  await xrpcPost(
    net.url,
    'com.atproto.repo.deleteRecord',
    { repo: agent.did, collection: NOTE, rkey: turn },
    agent.accessJwt,
  ).catch(() => undefined)
}
