/** Typed view of atproto Lexicon documents (https://atproto.com/specs/lexicon). */

interface Described {
  description?: string
}

export type LexStringFormat =
  | 'at-identifier'
  | 'at-uri'
  | 'cid'
  | 'datetime'
  | 'did'
  | 'handle'
  | 'language'
  | 'nsid'
  | 'record-key'
  | 'tid'
  | 'uri'

export interface LexNull extends Described {
  type: 'null'
}
export interface LexBoolean extends Described {
  type: 'boolean'
  default?: boolean
  const?: boolean
}
export interface LexInteger extends Described {
  type: 'integer'
  default?: number
  minimum?: number
  maximum?: number
  enum?: number[]
  const?: number
}
export interface LexString extends Described {
  type: 'string'
  format?: LexStringFormat
  default?: string
  /** Lengths are in UTF-8 bytes. */
  minLength?: number
  maxLength?: number
  minGraphemes?: number
  maxGraphemes?: number
  enum?: string[]
  const?: string
  knownValues?: string[]
}
export interface LexBytes extends Described {
  type: 'bytes'
  minLength?: number
  maxLength?: number
}
export interface LexCidLink extends Described {
  type: 'cid-link'
}
export interface LexBlob extends Described {
  type: 'blob'
  /** MIME types or patterns like `image/*` and `*\/*`. */
  accept?: string[]
  maxSize?: number
}
export interface LexUnknown extends Described {
  type: 'unknown'
}
export interface LexToken extends Described {
  type: 'token'
}
export interface LexRef extends Described {
  type: 'ref'
  /** `nsid`, `nsid#name` or (local) `#name`. */
  ref: string
}
export interface LexUnion extends Described {
  type: 'union'
  refs: string[]
  closed?: boolean
}

export type LexPrimitive = LexBoolean | LexInteger | LexString | LexUnknown
export type LexArrayItem =
  | LexNull
  | LexPrimitive
  | LexBytes
  | LexCidLink
  | LexBlob
  | LexRef
  | LexUnion
  | LexObject
export interface LexArray extends Described {
  type: 'array'
  items: LexArrayItem
  minLength?: number
  maxLength?: number
}
export type LexObjectProperty = LexArrayItem | LexArray
export interface LexObject extends Described {
  type: 'object'
  properties: Record<string, LexObjectProperty>
  required?: string[]
  nullable?: string[]
}

export interface LexParams extends Described {
  type: 'params'
  properties: Record<string, LexPrimitive | LexArray>
  required?: string[]
}
export interface LexBody extends Described {
  encoding: string
  schema?: LexObject | LexRef | LexUnion
}
export interface LexError extends Described {
  name: string
}
export interface LexQuery extends Described {
  type: 'query'
  parameters?: LexParams
  output?: LexBody
  errors?: LexError[]
}
export interface LexProcedure extends Described {
  type: 'procedure'
  parameters?: LexParams
  input?: LexBody
  output?: LexBody
  errors?: LexError[]
}
export interface LexSubscription extends Described {
  type: 'subscription'
  parameters?: LexParams
  message?: Described & { schema: LexUnion | LexObject | LexRef }
  errors?: LexError[]
}
/** `tid`, `nsid`, `any` or `literal:<record key>`. */
export type LexRecordKey = 'tid' | 'nsid' | 'any' | `literal:${string}`
export interface LexRecord extends Described {
  type: 'record'
  key: LexRecordKey
  record: LexObject
}
export interface LexPermission {
  type: 'permission'
  resource: string
  [option: string]: unknown
}
export interface LexPermissionSet extends Described {
  type: 'permission-set'
  title?: string
  'title:lang'?: Record<string, string>
  detail?: string
  'detail:lang'?: Record<string, string>
  permissions: LexPermission[]
}

/** Definitions that may only appear as `main`. */
export type LexPrimary = LexRecord | LexQuery | LexProcedure | LexSubscription | LexPermissionSet
/** Anything allowed directly under `defs`. */
export type LexUserType =
  | LexPrimary
  | LexToken
  | LexObject
  | LexArray
  | LexBoolean
  | LexInteger
  | LexString
  | LexBytes
  | LexCidLink
  | LexBlob
/** Anything a value can be validated against. */
export type LexValueType = LexObjectProperty | LexParams | LexToken | LexRecord

export interface LexiconDoc extends Described {
  lexicon: 1
  id: string
  revision?: number
  defs: Record<string, LexUserType>
}
