/** `murmur send`, `murmur request`, `murmur inbox`: agent.comms records, as the operator. */

import { type Context, printJson } from './context.ts'
import { usage } from './errors.ts'
import { clock, oneLine, shortDid, summarize, table } from './format.ts'

interface StrongRef {
  uri: string
  cid: string
}

async function write(ctx: Context, did: string, collection: string, record: object): Promise<StrongRef> {
  return ctx.client.post<StrongRef>('com.atproto.repo.createRecord', {
    repo: did,
    collection,
    record: { $type: collection, ...record, createdAt: new Date().toISOString() },
  })
}

function printRef(ctx: Context, ref: StrongRef): void {
  if (ctx.json) printJson(ctx, ref)
  else ctx.out(ref.uri)
}

export function priority(raw: string): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 5) throw usage(`--priority must be 1 to 5, got ${raw}`)
  return n
}

export function datetime(raw: string): string {
  const d = new Date(raw)
  if (Number.isNaN(d.getTime())) throw usage(`not a date and time: ${raw}`)
  return d.toISOString()
}

export async function send(
  ctx: Context,
  from: string,
  to: string,
  text: string,
  opts: { priority?: number },
): Promise<void> {
  const [sender, recipient] = await Promise.all([ctx.client.resolve(from), ctx.client.resolve(to)])
  const ref = await write(ctx, sender, 'agent.comms.message', {
    sender,
    recipient,
    content: { $type: 'agent.comms.defs#textContent', kind: 'text', text },
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
  })
  printRef(ctx, ref)
}

export async function request(
  ctx: Context,
  from: string,
  to: string,
  task: string,
  opts: { priority?: number; deadline?: string },
): Promise<void> {
  const [sender, assignee] = await Promise.all([ctx.client.resolve(from), ctx.client.resolve(to)])
  const ref = await write(ctx, sender, 'agent.comms.request', {
    sender,
    assignee,
    task,
    ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
    ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
  })
  printRef(ctx, ref)
}

interface InboxItem {
  uri: string
  cid: string
  collection: string
  sender: string
  record: unknown
  receivedAt: string
  verified: boolean
  state: string
}

export interface InboxOptions {
  unread?: boolean
  limit: number
  collection?: string
  cursor?: string
}

/** The agent's inbox, oldest first (as the network keeps it), up to `limit` items. */
export async function inbox(ctx: Context, agent: string, opts: InboxOptions): Promise<void> {
  const repo = await ctx.client.resolve(agent)
  const items: InboxItem[] = []
  let cursor = opts.cursor
  do {
    const page = await ctx.client.get<{ items: InboxItem[]; cursor?: string }>(
      'agent.comms.listInbox',
      {
        repo,
        limit: Math.min(100, opts.limit - items.length),
        cursor,
        collection: opts.collection,
        unreadOnly: opts.unread ? true : undefined,
      },
      true,
    )
    items.push(...page.items)
    cursor = page.items.length > 0 ? page.cursor : undefined
  } while (cursor && items.length < opts.limit)
  if (ctx.json) return printJson(ctx, { items, ...(cursor ? { cursor } : {}) })
  if (items.length === 0) return ctx.out(opts.unread ? 'no unread items' : 'the inbox is empty')
  const senders = new Map<string, string>()
  await Promise.all(
    [...new Set(items.flatMap((i) => [i.sender, ...recipientsOf(i.record)]))].map(async (did) => {
      senders.set(did, (await ctx.client.handleOf(did)) ?? shortDid(did))
    }),
  )
  const name = (did: string) => senders.get(did) ?? shortDid(did)
  const rows = items.map((i) => [
    ctx.paint('dim', `${i.receivedAt.slice(0, 10)} ${clock(new Date(i.receivedAt))}`),
    ctx.paint('cyan', name(i.sender)),
    ctx.paint('magenta', i.collection.replace(/^agent\.comms\./, '')),
    i.state === 'unread' ? ctx.paint('bold', i.state) : i.state,
    (i.verified ? '' : ctx.paint('red', '[unverified] ')) + oneLine(summarize(i.collection, i.record, name)),
  ])
  ctx.out(table(rows))
  if (cursor) ctx.out(ctx.paint('dim', `more: murmur inbox ${agent} --cursor ${cursor}`))
}

function recipientsOf(record: unknown): string[] {
  if (record === null || typeof record !== 'object') return []
  const r = record as Record<string, unknown>
  return [r.recipient, r.assignee].filter((v): v is string => typeof v === 'string')
}
