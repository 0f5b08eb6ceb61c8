/**
 * Sample agent.comms records in atproto JSON form, shared by the validator tests (test/core)
 * and the write-path tests (test/worker) so both exercise the same shapes.
 */

export type Rec = Record<string, unknown>

export const DID_A = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
export const DID_B = 'did:web:agent-b.example.com'
/** A dag-cbor CID, and a raw one as blobs have. */
export const CID = 'bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq'
export const RAW_CID = 'bafkreieals5v4munmqwabddgtqvssb7qdigmw43rgjjo6airnriasez36y'
export const TID = '3jzfcijpj2z2a'
export const CREATED_AT = '2026-01-02T03:04:05.678Z'

export const MAX_TEXT = 10_000
/** 10 MB, the largest blob content. */
export const MAX_BLOB = 10_000_000

export const uri = (did = DID_A, collection = 'agent.comms.request', rkey = TID) =>
  `at://${did}/${collection}/${rkey}`
export const strongRef = (at = uri()) => ({ uri: at, cid: CID })
export const strongRefs = (n: number) =>
  Array.from({ length: n }, (_, i) => strongRef(uri(DID_B, 'agent.memory.note', `note${i}`)))

// The four content kinds: `$type` selects the union member, `kind` repeats it.
export const text = (t: string) => ({ $type: 'agent.comms.defs#textContent', kind: 'text', text: t })
export const json = (data: unknown) => ({ $type: 'agent.comms.defs#jsonContent', kind: 'json', data })
export const ref = (at: string, cid?: string) => ({
  $type: 'agent.comms.defs#refContent',
  kind: 'ref',
  uri: at,
  ...(cid === undefined ? {} : { cid }),
})
export const blobRef = (size = 1024, mimeType = 'text/csv', cid = RAW_CID) => ({
  $type: 'blob',
  ref: { $link: cid },
  mimeType,
  size,
})
export const blob = (b: unknown = blobRef()) => ({
  $type: 'agent.comms.defs#blobContent',
  kind: 'blob',
  blob: b,
})
export const typedData = (data: unknown = { query: 'status' }, schema = 'com.example.task.params') => ({
  schema,
  data,
})

export const message = (over: Rec = {}, sender = DID_A): Rec => ({
  $type: 'agent.comms.message',
  sender,
  recipient: DID_B,
  content: text('hello'),
  createdAt: CREATED_AT,
  ...over,
})

export const broadcast = (over: Rec = {}, sender = DID_A): Rec => ({
  $type: 'agent.comms.broadcast',
  sender,
  content: text('deploy at noon'),
  createdAt: CREATED_AT,
  ...over,
})

export const request = (over: Rec = {}, sender = DID_A): Rec => ({
  $type: 'agent.comms.request',
  sender,
  task: 'Summarise the incident',
  createdAt: CREATED_AT,
  ...over,
})

export const response = (over: Rec = {}, sender = DID_B): Rec => ({
  $type: 'agent.comms.response',
  sender,
  request: strongRef(),
  state: 'working',
  createdAt: CREATED_AT,
  ...over,
})

export const handoff = (over: Rec = {}, sender = DID_A): Rec => ({
  $type: 'agent.comms.handoff',
  sender,
  recipient: DID_B,
  summary: 'Half done: the parser is written, the tests are not.',
  createdAt: CREATED_AT,
  ...over,
})

/** A copy of `rec` without `key`: for the missing-required-field cases. */
export function without(rec: Rec, key: string): Rec {
  const { [key]: _, ...rest } = rec
  return rest
}
