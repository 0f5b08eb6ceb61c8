/**
 * DAG-CBOR in atproto's data model. Values are the JSON-like form @atcute/cbor
 * uses: CID links are `{$link}` objects, bytes are `{$bytes}` objects.
 * Encoding validates the data model first, so nothing invalid is ever signed.
 */
import * as CBOR from '@atcute/cbor'
import { assertDataModel } from './data-model.ts'
import { guard } from './errors.ts'

export { type Bytes, fromBytes, isBytes, toBytes } from '@atcute/cbor'

/** Encode a data-model value (validated) to canonical DAG-CBOR. */
export function encodeCbor(value: unknown): Uint8Array<ArrayBuffer> {
  assertDataModel(value)
  return guard('InvalidCbor', 'cannot encode', () => CBOR.encode(value))
}

/**
 * Encode without re-validating: for values this module built itself (MST nodes,
 * commits), where validation would only cost time on the hot path.
 */
export function encodeCborTrusted(value: unknown): Uint8Array<ArrayBuffer> {
  return guard('InvalidCbor', 'cannot encode', () => CBOR.encode(value))
}

/** Decode exactly one DAG-CBOR value; trailing bytes are an error. */
export function decodeCbor<T = unknown>(bytes: Uint8Array): T {
  return guard('InvalidCbor', 'malformed DAG-CBOR', () => CBOR.decode(bytes)) as T
}

/**
 * A decoded value with @atcute's CID-link and bytes wrappers replaced by the plain `{$link}` and
 * `{$bytes}` objects they stand for (what JSON.stringify would make of them). Structured clone,
 * and so Durable Object RPC, cannot carry the wrapper classes. Untouched parts are not copied.
 */
export function toPlainJson(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (value instanceof CBOR.CidLinkWrapper || value instanceof CBOR.BytesWrapper) return value.toJSON()
  if (Array.isArray(value)) {
    const items = value.map(toPlainJson)
    return items.every((x, i) => x === value[i]) ? value : items
  }
  let out: Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(value)) {
    const plain = toPlainJson(v)
    if (plain === v) continue
    out ??= { ...value }
    out[k] = plain
  }
  return out ?? value
}

/** Decode one DAG-CBOR value from the front of `bytes`, returning the rest. */
export function decodeCborFirst<T = unknown>(bytes: Uint8Array): [T, Uint8Array] {
  return guard('InvalidCbor', 'malformed DAG-CBOR', () => CBOR.decodeFirst(bytes)) as [T, Uint8Array]
}
