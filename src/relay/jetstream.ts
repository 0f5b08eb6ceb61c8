/**
 * The Jetstream v1-compatible JSON stream (`GET /subscribe`): rendering an
 * event's JSON messages once, at sequencing; the subscriber filters
 * (`wantedCollections`, `wantedDids`, `maxMessageSizeBytes`); and parsing the
 * query and in-stream `options_update` messages. The sockets themselves are
 * the fan-out's (fanout.ts): a Jetstream socket is one with a `StreamView`.
 */
import { parseCar } from '../atproto/car.ts'
import { decodeCbor, fromBytes, isBytes } from '../atproto/cbor.ts'
import { isDid, isNsid, MAX_NSID_LENGTH } from '../atproto/syntax/index.ts'
import { invalidRequest } from '../http/xrpc.ts'
import type { StoredEvent } from './event-log.ts'
import type { StreamView } from './fanout.ts'

export const MAX_WANTED_COLLECTIONS = 100
export const MAX_WANTED_DIDS = 10_000

/** One rendered message: the collection it is about (null for identity/account) and its JSON. */
export interface JetItem {
  c: string | null
  m: string
}

interface CommitOp {
  action: string
  path: string
  cid?: { $link: string } | null
}

function commitItems(did: string, timeUs: number, body: Record<string, unknown>): JetItem[] {
  const ops = (Array.isArray(body.ops) ? body.ops : []) as CommitOp[]
  if (ops.length === 0) return []
  const blocks = isBytes(body.blocks) ? parseCar(fromBytes(body.blocks), { verify: false }).blocks : new Map()
  const items: JetItem[] = []
  for (const op of ops) {
    const slash = op.path.indexOf('/')
    const collection = op.path.slice(0, slash)
    const rkey = op.path.slice(slash + 1)
    const operation = op.action
    const cid = op.cid?.$link
    const commit: Record<string, unknown> = { rev: body.rev, operation, collection, rkey }
    if (operation !== 'delete' && cid) {
      const bytes = blocks.get(cid)
      if (bytes) commit.record = decodeCbor(bytes)
      commit.cid = cid
    }
    items.push({ c: collection, m: JSON.stringify({ did, time_us: timeUs, kind: 'commit', commit }) })
  }
  return items
}

/**
 * An event's Jetstream messages, rendered once at sequencing: one per op of a
 * `#commit`, one for `#identity` / `#account`, none for `#sync` (Jetstream v1
 * has no such kind: an imported repo's records reach its consumers only by
 * fetching the repo). `body` is the decoded DAG-CBOR body (CID links and bytes
 * serialise as `$link` / `$bytes`).
 */
export function renderJetstream(
  kind: string,
  did: string,
  seq: number,
  timeUs: number,
  body: Record<string, unknown>,
): JetItem[] {
  if (kind === 'commit') return commitItems(did, timeUs, body)
  if (kind !== 'identity' && kind !== 'account') return []
  const data = { ...body, did, seq }
  return [{ c: null, m: JSON.stringify({ did, time_us: timeUs, kind, [kind]: data }) }]
}

/** The stored form: `collection TAB json` lines (JSON.stringify never emits a raw tab or newline). */
export function packJetItems(items: JetItem[]): string {
  return items.map((i) => `${i.c ?? ''}\t${i.m}`).join('\n')
}

const parsed = new WeakMap<StoredEvent, JetItem[]>()

/** An event's messages, unpacked once per event object (a live batch is shared by every socket). */
export function jetItems(e: StoredEvent): JetItem[] {
  let items = parsed.get(e)
  if (items) return items
  items = []
  if (e.jet) {
    for (const line of e.jet.split('\n')) {
      const tab = line.indexOf('\t')
      items.push({ c: tab > 0 ? line.slice(0, tab) : null, m: line.slice(tab + 1) })
    }
  }
  parsed.set(e, items)
  return items
}

/** A subscriber's filters, as saved with its socket. Empty lists mean "everything". */
export interface JetOptions {
  wantedCollections: string[]
  wantedDids: string[]
  maxMessageSizeBytes: number
}

/** Dot-separated name segments: the part of an NSID before a `.*` wildcard. */
const PREFIX_RE = /^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

/** An exact NSID, or an NSID prefix followed by `.*` (`agent.memory.*`). */
export function isCollectionPattern(s: string): boolean {
  if (s.length > MAX_NSID_LENGTH) return false
  return s.endsWith('.*') ? PREFIX_RE.test(s.slice(0, -2)) : isNsid(s)
}

/** Validate filters; throws an XRPC 400 naming the bad value. */
export function checkOptions(collections: unknown, dids: unknown, maxBytes: unknown = 0): JetOptions {
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined || v === null) return []
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw invalidRequest(`${what} must be strings`)
    return v
  }
  const wantedCollections = list(collections, 'wantedCollections')
  const wantedDids = list(dids, 'wantedDids')
  if (wantedCollections.length > MAX_WANTED_COLLECTIONS)
    throw invalidRequest(`at most ${MAX_WANTED_COLLECTIONS} wantedCollections`)
  if (wantedDids.length > MAX_WANTED_DIDS) throw invalidRequest(`at most ${MAX_WANTED_DIDS} wantedDids`)
  for (const c of wantedCollections)
    if (!isCollectionPattern(c)) throw invalidRequest(`invalid wantedCollections value: ${c.slice(0, 100)}`)
  for (const d of wantedDids)
    if (!isDid(d)) throw invalidRequest(`invalid wantedDids value: ${d.slice(0, 100)}`)
  const max = Number(maxBytes ?? 0)
  if (!Number.isSafeInteger(max) || max < 0)
    throw invalidRequest('maxMessageSizeBytes must be a non-negative integer')
  return { wantedCollections, wantedDids, maxMessageSizeBytes: max }
}

export interface SubscribeParams {
  options: JetOptions
  /** Unix microseconds; replay events with a later `time_us`. Undefined: live. */
  cursor: number | undefined
  requireHello: boolean
}

/** `GET /subscribe` query parameters (repeatable lists), checked before any upgrade. */
export function parseSubscribeQuery(params: URLSearchParams): SubscribeParams {
  const raw = params.get('cursor')
  let cursor: number | undefined
  if (raw !== null && raw !== '') {
    cursor = Number(raw)
    if (!/^\d{1,17}$/.test(raw) || !Number.isSafeInteger(cursor))
      throw invalidRequest('cursor must be a non-negative integer (unix microseconds)')
  }
  const hello = params.get('requireHello')
  if (hello !== null && hello !== 'true' && hello !== 'false')
    throw invalidRequest('requireHello must be true or false')
  const options = checkOptions(
    params.getAll('wantedCollections'),
    params.getAll('wantedDids'),
    params.get('maxMessageSizeBytes') ?? 0,
  )
  return { options, cursor, requireHello: hello === 'true' }
}

/** An `options_update` message from the client; throws (XRPC 400 shape) when malformed. */
export function parseOptionsUpdate(text: string): JetOptions {
  let msg: { type?: unknown; payload?: Record<string, unknown> }
  try {
    msg = JSON.parse(text)
  } catch {
    throw invalidRequest('message is not JSON')
  }
  if (msg?.type !== 'options_update' || typeof msg.payload !== 'object' || msg.payload === null)
    throw invalidRequest('expected {"type":"options_update","payload":{…}}')
  const p = msg.payload
  return checkOptions(p.wantedCollections, p.wantedDids, p.maxMessageSizeBytes ?? 0)
}

/** A socket's view of the stream under its filters; `state` is what is saved with the socket. */
export function jetView(options: JetOptions, state: unknown = options): StreamView {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const c of options.wantedCollections)
    if (c.endsWith('.*')) prefixes.push(c.slice(0, -1))
    else exact.add(c)
  const anyCollection = options.wantedCollections.length === 0
  const dids = options.wantedDids.length > 0 ? new Set(options.wantedDids) : null
  const max = options.maxMessageSizeBytes
  const wanted = (c: string) => anyCollection || exact.has(c) || prefixes.some((p) => c.startsWith(p))
  return {
    state,
    render(e: StoredEvent): string[] {
      if (dids && (!e.did || !dids.has(e.did))) return []
      const out: string[] = []
      for (const item of jetItems(e)) {
        if (item.c !== null && !wanted(item.c)) continue
        if (max > 0 && item.m.length > max / 3 && new TextEncoder().encode(item.m).length > max) continue
        out.push(item.m)
      }
      return out
    },
  }
}

/** Filters up to this size (JSON) ride in the socket attachment, whose limit is 16 KiB. */
const INLINE_FILTER_BYTES = 8 * 1024
const refOf = (state: unknown) => (state as { ref?: number } | null)?.ref

/**
 * Views whose filters are kept in SQLite (`jetstream_filters`) when they are
 * too large for the attachment (10,000 DIDs is ~400 KB), referenced by id.
 */
export class JetFilters {
  constructor(private readonly sql: SqlStorage) {}

  view(options: JetOptions): StreamView {
    const json = JSON.stringify(options)
    if (json.length <= INLINE_FILTER_BYTES) return jetView(options)
    const { id } = this.sql
      .exec<{ id: number }>('INSERT INTO jetstream_filters (options) VALUES (?) RETURNING id', json)
      .one()
    return jetView(options, { ref: id })
  }

  /** A view from a socket's saved state (after hibernation). A lost row: the socket gets nothing. */
  restore(state: unknown): StreamView {
    const ref = refOf(state)
    if (ref === undefined) return jetView(state as JetOptions)
    const row = this.sql
      .exec<{ options: string }>('SELECT options FROM jetstream_filters WHERE id = ?', ref)
      .toArray()[0]
    return row ? jetView(JSON.parse(row.options), state) : { state, render: () => [] }
  }

  /** Forget a view's stored filters (its socket closed, or it was replaced). */
  release(view: StreamView | undefined): void {
    const ref = refOf(view?.state)
    if (ref !== undefined) this.sql.exec('DELETE FROM jetstream_filters WHERE id = ?', ref)
  }

  /** Drop stored filters no open socket refers to (sockets that went away without a close event). */
  sweep(states: unknown[]): void {
    const keep = states.map(refOf).filter((r): r is number => r !== undefined)
    this.sql.exec(`DELETE FROM jetstream_filters WHERE id NOT IN (${keep.map(() => '?').join(',')})`, ...keep)
  }
}
