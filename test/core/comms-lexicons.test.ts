/**
 * The lexicon documents under lexicons/, and the agent.comms records, judged by our validator and
 * by the reference one (@atproto/lexicon): both must accept every document, and must agree on
 * every record in the table below.
 */
import { parseLexiconDoc as refParseLexiconDoc } from '@atproto/lexicon'
import { describe, expect, it } from 'vitest'
import { parseLexiconDoc } from '../../src/atproto/lexicon/index.ts'
import type { LexiconDoc, LexObject } from '../../src/atproto/lexicon/types.ts'
import {
  blob,
  blobRef,
  broadcast,
  CID,
  DID_B,
  handoff,
  json,
  MAX_BLOB,
  MAX_TEXT,
  message,
  ref,
  request,
  response,
  strongRef,
  strongRefs,
  TID,
  text,
  typedData,
  uri,
  without,
} from '../comms-records.ts'
import {
  agreementSuite,
  bad,
  type Case,
  docs,
  long,
  ok,
  ours,
  oursSay,
  recordOf,
  sources,
  theirs,
  theySay,
} from '../lexicon-agreement.ts'

const COMMS_RECORDS = ['message', 'broadcast', 'request', 'response', 'handoff'].map(
  (n) => `agent.comms.${n}`,
)
const CONTENT_REFS = ['textContent', 'jsonContent', 'refContent', 'blobContent'].map(
  (n) => `agent.comms.defs#${n}`,
)

describe('lexicon documents', () => {
  it('includes every agent.comms lexicon', () => {
    const ids = docs.map((d) => (d as { id: string }).id)
    expect(ids).toEqual(expect.arrayContaining(['agent.comms.defs', ...COMMS_RECORDS]))
  })

  it.each(sources)('$path parses with ours and with @atproto/lexicon', ({ path, doc }) => {
    const parsed = parseLexiconDoc(doc)
    expect(() => refParseLexiconDoc(doc)).not.toThrow()
    // The file's path is its NSID, so a reader finds agent.comms.message in agent/comms/message.json.
    expect(path).toBe(`lexicons/${parsed.id.split('.').join('/')}.json`)
  })

  it('registers all of them together in both registries', () => {
    expect([...ours].length).toBe(sources.length)
    // @atproto/lexicon resolves refs lazily; resolving every one proves none dangles.
    for (const doc of ours) {
      for (const ref of refsIn(doc)) expect(() => theirs.getDefOrThrow(ref), ref).not.toThrow()
    }
  })

  it('keys every agent.comms record by TID', () => {
    for (const id of COMMS_RECORDS) {
      const def = ours.getDef(id)
      expect(def?.type, id).toBe('record')
      expect(def?.type === 'record' && def.key, id).toBe('tid')
    }
  })

  it('offers the same four content kinds wherever content appears', () => {
    for (const id of ['agent.comms.message', 'agent.comms.broadcast']) {
      const content = recordOf(id).properties.content
      expect(content).toMatchObject({ type: 'union', closed: true, refs: CONTENT_REFS })
    }
    // A result is typed data or any content.
    const result = recordOf('agent.comms.response').properties.result
    expect(result).toMatchObject({ type: 'union', closed: true })
    expect(result?.type === 'union' && result.refs).toEqual(['agent.comms.defs#typedData', ...CONTENT_REFS])
    // Each kind's `kind` is a required constant matching its def name.
    for (const r of CONTENT_REFS) {
      const def = ours.getDef(r) as LexObject
      const kind = r.slice(r.indexOf('#') + 1).replace(/Content$/, '')
      expect(def.required).toContain('kind')
      expect(def.properties.kind).toMatchObject({ type: 'string', const: kind })
    }
  })
})

const audience = (n: number) =>
  Array.from({ length: n }, (_, i) => (i % 2 ? `did:plc:agent${i}` : `topic-${i}`))

const cases: Case[] = [
  // agent.comms.message
  ok('message: minimal text', message()),
  ok('message: 10,000 characters', message({ content: text(long(MAX_TEXT)) })),
  ok('message: 10,000 emoji (40,000 bytes)', message({ content: text('😀'.repeat(MAX_TEXT)) })),
  ok('message: every optional field', {
    ...message(),
    thread: TID,
    inReplyTo: strongRef(uri(DID_B, 'agent.comms.message')),
    context: strongRefs(50),
    priority: 5,
    expiresAt: '2026-01-03T00:00:00Z',
  }),
  ok('message: priority 1', message({ priority: 1 })),
  ok('message: json content', message({ content: json({ passed: 41, failed: 0, list: [1, 2] }) })),
  ok('message: ref content with a cid', message({ content: ref(uri(DID_B), CID) })),
  ok('message: ref content without a cid', message({ content: ref(`at://${DID_B}`) })),
  ok('message: blob content', message({ content: blob() })),
  ok('message: blob content of exactly 10 MB', message({ content: blob(blobRef(MAX_BLOB)) })),
  ok('message: undeclared fields are allowed', message({ mood: 'cheerful' })),
  bad('message: 10,001 characters', message({ content: text(long(MAX_TEXT + 1)) })),
  bad('message: one grapheme of 100,001 bytes', message({ content: text(`e${'\u0301'.repeat(50_000)}`) })),
  bad('message: priority 0', message({ priority: 0 })),
  bad('message: priority 6', message({ priority: 6 })),
  bad('message: priority as a string', message({ priority: '3' })),
  bad('message: sender not a DID', message({ sender: 'alice' })),
  bad('message: sender an empty DID', message({ sender: 'did:plc:' })),
  bad('message: recipient a handle', message({ recipient: 'bob.agents.test' })),
  bad('message: sender a number', message({ sender: 42 })),
  bad('message: no sender', without(message(), 'sender')),
  bad('message: no recipient', without(message(), 'recipient')),
  bad('message: no content', without(message(), 'content')),
  bad('message: no createdAt', without(message(), 'createdAt')),
  bad('message: createdAt not a datetime', message({ createdAt: 'yesterday' })),
  bad('message: content a bare string', message({ content: 'hello' })),
  bad('message: content without $type', message({ content: { kind: 'text', text: 'hi' } })),
  bad(
    'message: content of an unknown kind',
    message({ content: { $type: 'agent.comms.defs#video', kind: 'video' } }),
  ),
  bad('message: kind disagrees with $type', message({ content: { ...text('hi'), kind: 'json' } })),
  bad('message: content without kind', message({ content: without(text('hi'), 'kind') })),
  bad('message: json data a string', message({ content: json('hi') })),
  bad('message: ref to a web URL', message({ content: ref('https://example.com/x') })),
  bad('message: ref with a bad cid', message({ content: ref(uri(), 'not-a-cid') })),
  bad('message: blob content without a blob', message({ content: without(blob(), 'blob') })),
  bad('message: blob content holding a string', message({ content: blob('bafkrei') })),
  bad('message: 51 context refs', message({ context: strongRefs(51) })),
  bad('message: context ref without a cid', message({ context: [{ uri: uri() }] })),
  bad('message: inReplyTo with a bad cid', message({ inReplyTo: { uri: uri(), cid: 'nope' } })),
  bad('message: thread not a TID', message({ thread: 'thread-1' })),

  // agent.comms.broadcast
  ok('broadcast: minimal', broadcast()),
  ok('broadcast: 100 audience entries', broadcast({ audience: audience(100) })),
  ok('broadcast: every optional field', {
    ...broadcast(),
    audience: [DID_B, 'ops'],
    topic: 'deploys',
    severity: 'critical',
    ttlSeconds: 604_800,
  }),
  // knownValues is an open set: both validators accept a severity they do not know.
  ok('broadcast: an unknown severity', broadcast({ severity: 'apocalyptic' })),
  bad('broadcast: 101 audience entries', broadcast({ audience: audience(101) })),
  bad('broadcast: an audience entry of 2,049 bytes', broadcast({ audience: [long(2049)] })),
  bad('broadcast: audience a string', broadcast({ audience: DID_B })),
  bad('broadcast: ttlSeconds 604,801', broadcast({ ttlSeconds: 604_801 })),
  bad('broadcast: ttlSeconds 0', broadcast({ ttlSeconds: 0 })),
  bad('broadcast: a 65-character topic', broadcast({ topic: long(65) })),
  bad('broadcast: severity a number', broadcast({ severity: 3 })),
  bad('broadcast: no content', without(broadcast(), 'content')),
  bad('broadcast: 10,001 characters', broadcast({ content: text(long(MAX_TEXT + 1)) })),

  // agent.comms.request
  ok('request: minimal (open to anyone)', request()),
  ok('request: 512 characters', request({ task: long(512) })),
  ok('request: every optional field', {
    ...request(),
    assignee: DID_B,
    audience: ['reviewers'],
    params: typedData(),
    context: strongRefs(50),
    priority: 2,
    deadline: '2026-01-02T04:00:00Z',
  }),
  bad('request: 513 characters', request({ task: long(513) })),
  bad('request: no task', without(request(), 'task')),
  bad('request: assignee not a DID', request({ assignee: 'bob' })),
  bad('request: params without a schema', request({ params: without(typedData(), 'schema') })),
  bad('request: params without data', request({ params: without(typedData(), 'data') })),
  bad('request: params schema not an NSID', request({ params: typedData({}, 'not an nsid') })),
  bad('request: params data a number', request({ params: typedData(7) })),
  bad('request: 51 context refs', request({ context: strongRefs(51) })),
  bad('request: priority 6', request({ priority: 6 })),
  bad('request: deadline not a datetime', request({ deadline: 'tomorrow' })),
  bad('request: 101 audience entries', request({ audience: audience(101) })),

  // agent.comms.response
  ...[
    'submitted',
    'working',
    'input-required',
    'auth-required',
    'completed',
    'failed',
    'canceled',
    'rejected',
  ].map((state) => ok(`response: state ${state}`, response({ state }))),
  // taskState is knownValues: another string is valid to both (a reader treats it as A2A's `unknown`).
  ok('response: a state outside the known values', response({ state: 'paused' })),
  ok('response: every optional field', {
    ...response({ state: 'completed' }),
    result: { $type: 'agent.comms.defs#typedData', ...typedData({ summary: 'ok' }) },
    error: { code: 'Partial', message: 'Two sources were unreachable.', retryable: true },
    artifacts: [{ $type: 'agent.comms.defs#strongRef', ...strongRef() }, blob()],
    metrics: { durationMs: 1200, tokenUsage: { input: 900, output: 300 } },
  }),
  ok('response: a text result', response({ state: 'completed', result: text('Done.') })),
  ok('response: a blob result', response({ state: 'completed', result: blob() })),
  bad('response: a state of 65 bytes', response({ state: long(65) })),
  bad('response: state a number', response({ state: 3 })),
  bad('response: no state', without(response(), 'state')),
  bad('response: no request', without(response(), 'request')),
  bad('response: request without a cid', response({ request: { uri: uri() } })),
  bad('response: typed result without $type', response({ result: typedData() })),
  bad('response: result a string', response({ result: 'done' })),
  bad('response: error without a message', response({ error: { code: 'Timeout' } })),
  bad('response: retryable as a string', response({ error: { code: 'X', message: 'y', retryable: 'yes' } })),
  bad('response: a bare blob as an artifact', response({ artifacts: [blobRef()] })),
  bad('response: a strong ref artifact without $type', response({ artifacts: [strongRef()] })),
  bad('response: 101 artifacts', response({ artifacts: Array.from({ length: 101 }, () => blob()) })),
  bad('response: negative duration', response({ metrics: { durationMs: -1 } })),
  bad('response: negative tokens', response({ metrics: { tokenUsage: { output: -5 } } })),

  // agent.comms.handoff
  ok('handoff: minimal', handoff()),
  ok('handoff: 10,000 characters', handoff({ summary: long(MAX_TEXT) })),
  ok('handoff: every optional field', {
    ...handoff(),
    task: strongRef(),
    context: strongRefs(100),
    state: typedData({ step: 3 }, 'com.example.parser.state'),
    reason: 'Going offline for maintenance.',
    expiresAt: '2026-02-01T00:00:00Z',
  }),
  bad('handoff: 10,001 characters', handoff({ summary: long(MAX_TEXT + 1) })),
  bad('handoff: 101 context refs', handoff({ context: strongRefs(101) })),
  bad('handoff: no recipient', without(handoff(), 'recipient')),
  bad('handoff: no summary', without(handoff(), 'summary')),
  bad('handoff: a 1,001-character reason', handoff({ reason: long(1001) })),
  bad('handoff: task not a strong ref', handoff({ task: uri() })),
  bad('handoff: state without a schema', handoff({ state: { data: {} } })),
]

agreementSuite('agent.comms records', COMMS_RECORDS, cases)

describe('agent.comms records: messages and where we are stricter', () => {
  it('names the failing path', () => {
    expect(oursSay(message({ content: text(long(MAX_TEXT + 1)) }))).toBe(
      'record/content/text must not be longer than 10000 graphemes',
    )
    expect(oursSay(broadcast({ audience: audience(101) }))).toBe(
      'record/audience must not have more than 100 elements',
    )
    expect(oursSay(message({ priority: 0 }))).toBe('record/priority can not be less than 1')
    expect(oursSay(message({ sender: 'alice' }))).toBe('record/sender must be a valid did')
    expect(oursSay(without(request(), 'task'))).toBe('record must have the property "task"')
    expect(oursSay(message({ content: { ...text('hi'), kind: 'json' } }))).toBe(
      'record/content/kind must be "text"',
    )
  })

  it('refuses a record key that is not a TID', () => {
    for (const record of [message(), broadcast(), request(), response(), handoff()]) {
      const id = record.$type as string
      expect(() => ours.validateRecord(id, record, TID)).not.toThrow()
      expect(() => ours.validateRecord(id, record, 'self')).toThrow(/rkey/)
    }
  })
})

// The two places the validators differ; ours is the stricter in both, and each case says why.
describe('agent.comms records: where ours is stricter than @atproto/lexicon', () => {
  // @atproto/lexicon checks that a blob is a blob ref but not its size: its PDS checks blob
  // constraints later, against the stored blob. We check the declared size at write, so a record
  // citing an oversized blob never lands.
  it('refuses a blob over 10 MB', () => {
    const record = message({ content: blob(blobRef(MAX_BLOB + 1)) })
    expect(oursSay(record)).toBe('record/content/blob must not be larger than 10000000 bytes')
    expect(theySay(record)).toBeUndefined()
  })

  // The spec makes `unknown` an object (a map); @atproto/lexicon only asks for typeof 'object',
  // which an array passes. So `data` must be wrapped: {"items": [...]}.
  it('refuses an array as json data', () => {
    const record = message({ content: json([1, 2, 3]) })
    expect(oursSay(record)).toBe('record/content/data must be an object')
    expect(theySay(record)).toBeUndefined()
    expect(oursSay(message({ content: json({ items: [1, 2, 3] }) }))).toBeUndefined()
  })
})

/** Every ref a document makes, made absolute. */
function refsIn(doc: LexiconDoc): string[] {
  const out: string[] = []
  const visit = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) visit(x)
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      if (o.type === 'ref' && typeof o.ref === 'string') out.push(o.ref)
      if (o.type === 'union' && Array.isArray(o.refs)) out.push(...(o.refs as string[]))
      for (const x of Object.values(o)) visit(x)
    }
  }
  visit(doc.defs)
  return out.map((r) => (r.startsWith('#') ? `${doc.id}${r}` : r))
}
