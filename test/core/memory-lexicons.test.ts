/**
 * The agent.memory lexicons, judged by our validator and by the reference one (@atproto/lexicon):
 * both must accept every memory document, and must agree on every record in the table below.
 */
import { parseLexiconDoc as refParseLexiconDoc } from '@atproto/lexicon'
import { describe, expect, it } from 'vitest'
import { parseLexiconDoc } from '../../src/atproto/lexicon/index.ts'
import {
  blobRef,
  CID,
  CREATED_AT,
  DID_B,
  MAX_BLOB,
  type Rec,
  strongRef,
  strongRefs,
  TID,
  uri,
  without,
} from '../comms-records.ts'
import {
  agreementSuite,
  bad,
  type Case,
  long,
  ok,
  ours,
  oursSay,
  recordOf,
  sources,
  theirs,
  theySay,
} from '../lexicon-agreement.ts'

const MEMORY_RECORDS = ['note', 'fact', 'decision', 'summary', 'profile'].map((n) => `agent.memory.${n}`)
/** The records that carry `shared` and `artifacts`: all but the profile. */
const MEMORIES = MEMORY_RECORDS.filter((id) => id !== 'agent.memory.profile')
const memorySources = sources.filter((s) => s.path.startsWith('lexicons/agent/memory/'))

/** A later TID than TID, for the end of a summary's run. */
const TID_LATER = '3jzfcijpj2z2z'
/** A fact's record key: what a writer derives from the triple (any record-key syntax will do). */
const FACT_KEY = 'sha256-5d41402abc4b2a76b9719d911017c592'

const note = (over: Rec = {}): Rec => ({
  $type: 'agent.memory.note',
  text: 'The staging deploy failed on a missing secret.',
  createdAt: CREATED_AT,
  ...over,
})

const fact = (over: Rec = {}): Rec => ({
  $type: 'agent.memory.fact',
  subject: 'the staging cluster',
  predicate: 'runs on',
  object: 'Kubernetes 1.30',
  createdAt: CREATED_AT,
  ...over,
})

const decision = (over: Rec = {}): Rec => ({
  $type: 'agent.memory.decision',
  decision: 'Keep the inbox in SQLite',
  status: 'accepted',
  createdAt: CREATED_AT,
  ...over,
})

const coverage = (over: Rec = {}): Rec => ({
  collection: 'agent.memory.note',
  from: TID,
  to: TID_LATER,
  count: 12,
  ...over,
})

const summary = (over: Rec = {}): Rec => ({
  $type: 'agent.memory.summary',
  text: 'A week of deploys: two failures, both missing secrets.',
  covers: coverage(),
  createdAt: CREATED_AT,
  ...over,
})

const profile = (over: Rec = {}): Rec => ({ $type: 'agent.memory.profile', ...over })

describe('agent.memory lexicon documents', () => {
  it('includes every agent.memory record', () => {
    expect(memorySources.map((s) => (s.doc as { id: string }).id).sort()).toEqual([...MEMORY_RECORDS].sort())
  })

  it.each(memorySources)('$path parses with ours and with @atproto/lexicon', ({ path, doc }) => {
    const parsed = parseLexiconDoc(doc)
    expect(() => refParseLexiconDoc(doc)).not.toThrow()
    expect(path).toBe(`lexicons/${parsed.id.split('.').join('/')}.json`)
    expect(() => theirs.getDefOrThrow(parsed.id)).not.toThrow()
  })

  it('keys each record as its writer does', () => {
    const keys = Object.fromEntries(
      MEMORY_RECORDS.map((id) => {
        const def = ours.getDef(id)
        return [id, def?.type === 'record' ? def.key : undefined]
      }),
    )
    expect(keys).toEqual({
      'agent.memory.note': 'tid',
      'agent.memory.fact': 'any',
      'agent.memory.decision': 'tid',
      'agent.memory.summary': 'tid',
      'agent.memory.profile': 'literal:self',
    })
  })

  it('declares `shared` and `artifacts` the same way in every memory record', () => {
    const [first, ...rest] = MEMORIES.map((id) => recordOf(id).properties)
    expect(first?.shared).toMatchObject({ type: 'boolean' })
    expect(first?.artifacts).toMatchObject({
      type: 'array',
      maxLength: 16,
      items: { type: 'blob', maxSize: MAX_BLOB },
    })
    // Any media type: no `accept`.
    expect(first?.artifacts?.type === 'array' && first.artifacts.items).not.toHaveProperty('accept')
    for (const [i, props] of rest.entries()) {
      expect(props.shared, MEMORIES[i + 1]).toEqual(first?.shared)
      expect(props.artifacts, MEMORIES[i + 1]).toEqual(first?.artifacts)
    }
    expect(recordOf('agent.memory.profile').properties).not.toHaveProperty('shared')
  })
})

const blobs = (n: number) => Array.from({ length: n }, () => blobRef())

const cases: Case[] = [
  // agent.memory.note
  ok('note: minimal', note()),
  ok('note: every optional field', {
    ...note(),
    tags: ['deploys', 'secrets'],
    source: strongRef(uri(DID_B, 'agent.comms.message')),
    importance: 5,
    shared: true,
    artifacts: [blobRef(2048, 'text/plain'), blobRef(MAX_BLOB, 'image/png')],
  }),
  ok('note: 16 artifacts of any media type', note({ artifacts: blobs(16) })),
  ok('note: undeclared fields are allowed', note({ mood: 'wary' })),
  bad('note: no text', without(note(), 'text')),
  bad('note: no createdAt', without(note(), 'createdAt')),
  bad('note: importance 0', note({ importance: 0 })),
  bad('note: importance 6', note({ importance: 6 })),
  bad('note: 10,001 characters', note({ text: long(10_001) })),
  bad('note: shared as a string', note({ shared: 'true' })),
  bad('note: 17 artifacts', note({ artifacts: blobs(17) })),
  bad('note: an artifact that is a strong ref', note({ artifacts: [strongRef()] })),
  bad('note: an artifact that is a CID string', note({ artifacts: [CID] })),
  bad('note: artifacts a single blob', note({ artifacts: blobRef() })),
  bad('note: source without a cid', note({ source: { uri: uri() } })),

  // agent.memory.fact
  ok('fact: minimal', fact()),
  ok('fact: every optional field', {
    ...fact(),
    confidence: 850,
    source: strongRef(uri(DID_B, 'agent.memory.note')),
    validFrom: '2025-06-01T00:00:00Z',
    validUntil: '2026-06-01T00:00:00.000Z',
    supersedes: strongRef(uri(DID_B, 'agent.memory.fact', FACT_KEY)),
    shared: false,
    artifacts: blobs(1),
  }),
  ok('fact: confidence 0', fact({ confidence: 0 })),
  ok('fact: confidence 1000', fact({ confidence: 1000 })),
  ok('fact: an object of 10,000 bytes', fact({ object: long(10_000) })),
  bad('fact: confidence 1001', fact({ confidence: 1001 })),
  bad('fact: confidence -1', fact({ confidence: -1 })),
  bad('fact: confidence a fraction', fact({ confidence: 0.85 })),
  bad('fact: confidence a string', fact({ confidence: '850' })),
  bad('fact: no subject', without(fact(), 'subject')),
  bad('fact: no predicate', without(fact(), 'predicate')),
  bad('fact: no object', without(fact(), 'object')),
  bad('fact: no createdAt', without(fact(), 'createdAt')),
  bad('fact: a subject of 1,001 bytes', fact({ subject: long(1001) })),
  bad('fact: a predicate of 301 bytes', fact({ predicate: long(301) })),
  bad('fact: an object of 10,001 bytes', fact({ object: long(10_001) })),
  bad('fact: object a number', fact({ object: 42 })),
  bad('fact: validFrom not a datetime', fact({ validFrom: 'last June' })),
  bad('fact: validUntil a date without a time', fact({ validUntil: '2026-06-01' })),
  bad('fact: supersedes a bare at-uri', fact({ supersedes: uri() })),

  // agent.memory.decision
  ...['proposed', 'accepted', 'rejected', 'superseded'].map((status) =>
    ok(`decision: status ${status}`, decision({ status })),
  ),
  // knownValues is an open set: both validators accept a status they do not know.
  ok('decision: a status outside the known values', decision({ status: 'deferred' })),
  ok('decision: every optional field', {
    ...decision(),
    context: 'Inbox writes must be transactional with the cursor.',
    options: ['SQLite in the Durable Object', 'D1', 'KV'],
    rationale: 'One transaction covers the cursor and the inbox.',
    supersedes: strongRef(uri(DID_B, 'agent.memory.decision')),
    shared: true,
    artifacts: blobs(2),
  }),
  ok('decision: 32 options', decision({ options: Array.from({ length: 32 }, (_, i) => `option ${i}`) })),
  bad('decision: no decision', without(decision(), 'decision')),
  bad('decision: no status', without(decision(), 'status')),
  bad('decision: no createdAt', without(decision(), 'createdAt')),
  bad('decision: a status of 65 bytes', decision({ status: long(65) })),
  bad('decision: status a boolean', decision({ status: true })),
  bad('decision: 33 options', decision({ options: Array.from({ length: 33 }, (_, i) => `option ${i}`) })),
  bad('decision: an option of 2,001 bytes', decision({ options: [long(2001)] })),
  bad('decision: options a string', decision({ options: 'SQLite or D1' })),
  bad('decision: context of 10,001 characters', decision({ context: long(10_001) })),
  bad('decision: a decision of 10,001 bytes', decision({ decision: long(10_001) })),

  // agent.memory.summary
  ok('summary: minimal', summary()),
  ok('summary: a run of one record', summary({ covers: coverage({ from: TID, to: TID, count: 1 }) })),
  ok(
    'summary: every optional field, 100 refs',
    summary({ covers: coverage({ count: 100, refs: strongRefs(100) }), shared: true, artifacts: blobs(16) }),
  ),
  ok('summary: a run of messages', summary({ covers: coverage({ collection: 'agent.comms.message' }) })),
  ok('summary: undeclared fields in covers are allowed', summary({ covers: coverage({ model: 'offline' }) })),
  bad('summary: no text', without(summary(), 'text')),
  bad('summary: no covers', without(summary(), 'covers')),
  bad('summary: no createdAt', without(summary(), 'createdAt')),
  bad('summary: text of 100,001 bytes', summary({ text: long(100_001) })),
  bad('summary: from not a TID', summary({ covers: coverage({ from: 'note-1' }) })),
  bad('summary: to a TID in upper case', summary({ covers: coverage({ to: TID_LATER.toUpperCase() }) })),
  bad('summary: collection not an NSID', summary({ covers: coverage({ collection: 'notes' }) })),
  bad('summary: count 0', summary({ covers: coverage({ count: 0 }) })),
  bad('summary: count a string', summary({ covers: coverage({ count: '12' }) })),
  bad('summary: covers without from', summary({ covers: without(coverage(), 'from') })),
  bad('summary: covers without to', summary({ covers: without(coverage(), 'to') })),
  bad('summary: covers without count', summary({ covers: without(coverage(), 'count') })),
  bad('summary: covers without collection', summary({ covers: without(coverage(), 'collection') })),
  bad('summary: 101 refs', summary({ covers: coverage({ refs: strongRefs(101) }) })),
  bad(
    'summary: a ref with a bad cid',
    summary({ covers: coverage({ refs: [{ uri: uri(), cid: 'nope' }] }) }),
  ),
  bad('summary: covers an array', summary({ covers: [coverage()] })),

  // agent.memory.profile
  ok('profile: empty (nothing is required)', profile()),
  ok(
    'profile: every field',
    profile({
      displayName: 'Ops Agent',
      description: 'Watches deploys and files what goes wrong.',
      instructions: long(100_000),
      skills: ['triage', 'summarise'],
      model: 'anthropic:claude-sonnet-4',
      tools: Array.from({ length: 64 }, (_, i) => `tool-${i}`),
      createdAt: CREATED_AT,
    }),
  ),
  ok('profile: model offline', profile({ model: 'offline' })),
  ok('profile: a 64-emoji name (256 bytes)', profile({ displayName: '🤖'.repeat(64) })),
  bad('profile: a 65-character name', profile({ displayName: long(65) })),
  bad('profile: a 257-character description', profile({ description: long(257) })),
  bad('profile: instructions of 100,001 bytes', profile({ instructions: long(100_001) })),
  bad('profile: 65 skills', profile({ skills: Array.from({ length: 65 }, (_, i) => `skill-${i}`) })),
  bad('profile: a skill of 201 bytes', profile({ skills: [long(201)] })),
  bad('profile: a model of 201 bytes', profile({ model: long(201) })),
  bad('profile: 65 tools', profile({ tools: Array.from({ length: 65 }, (_, i) => `tool-${i}`) })),
  bad('profile: a tool of 101 bytes', profile({ tools: [long(101)] })),
  bad('profile: tools a string', profile({ tools: 'search' })),
  bad('profile: createdAt not a datetime', profile({ createdAt: 'now' })),
]

agreementSuite('agent.memory records', MEMORY_RECORDS, cases)

describe('agent.memory records: messages and where we are stricter', () => {
  it('names the failing path', () => {
    expect(oursSay(fact({ confidence: 1001 }))).toBe('record/confidence can not be greater than 1000')
    expect(oursSay(note({ importance: 0 }))).toBe('record/importance can not be less than 1')
    expect(oursSay(summary({ covers: coverage({ from: 'note-1' }) }))).toBe(
      'record/covers/from must be a valid tid',
    )
    expect(oursSay(without(decision(), 'status'))).toBe('record must have the property "status"')
    expect(oursSay(note({ artifacts: blobs(17) }))).toBe(
      'record/artifacts must not have more than 16 elements',
    )
  })
})

// @atproto/lexicon's assertValidRecord does not see the record key (its PDS checks keys apart);
// ours takes it, so the write path refuses a record at a key its lexicon does not allow.
describe('agent.memory record keys (ours)', () => {
  const at = (record: Rec, rkey: string) => oursSay(record, rkey)

  it('keeps the profile at `self`', () => {
    expect(at(profile(), 'self')).toBeUndefined()
    for (const rkey of ['me', TID, 'Self']) {
      expect(at(profile(), rkey), rkey).toBe(`rkey "${rkey}" does not match record key type "literal:self"`)
    }
  })

  it('keys notes, decisions and summaries by TID', () => {
    for (const record of [note(), decision(), summary()]) {
      expect(at(record, TID)).toBeUndefined()
      expect(at(record, 'self')).toMatch(/^rkey .* does not match record key type "tid"$/)
      expect(at(record, FACT_KEY)).toMatch(/^rkey /)
    }
  })

  it('keys a fact by any record key, such as the hash of its triple', () => {
    for (const rkey of [FACT_KEY, TID, 'self', 'a:b~c_d.e-f']) expect(at(fact(), rkey), rkey).toBeUndefined()
    // Still a record key: no slashes, not `.` or `..`, at most 512 characters.
    for (const rkey of ['a/b', '.', '..', 'has space', long(513)])
      expect(at(fact(), rkey), rkey).toMatch(/^rkey /)
  })
})

// Where ours is stricter than @atproto/lexicon, as for agent.comms (see comms-lexicons.test.ts).
describe('agent.memory records: where ours is stricter than @atproto/lexicon', () => {
  // @atproto/lexicon leaves a blob's size to its PDS, which checks the stored blob later; we check
  // the declared size at write.
  it('refuses an artifact over 10 MB', () => {
    const record = note({ artifacts: [blobRef(MAX_BLOB + 1)] })
    expect(oursSay(record)).toBe('record/artifacts/0 must not be larger than 10000000 bytes')
    expect(theySay(record)).toBeUndefined()
  })
})
