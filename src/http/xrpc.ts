/**
 * XRPC plumbing: the `{error, message}` failure body, typed errors that cross
 * the Durable Object RPC boundary as plain data, and body parsing with limits.
 */
import { concat } from '@atcute/uint8array'
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { AtprotoError } from '../atproto/errors.ts'

export interface XrpcFailure {
  status: ContentfulStatusCode
  error: string
  message: string
}

export class XrpcError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: string,
    message: string,
  ) {
    super(message)
  }

  toFailure(): XrpcFailure {
    return { status: this.status, error: this.error, message: this.message }
  }
}

export const invalidRequest = (message: string) => new XrpcError(400, 'InvalidRequest', message)
export const authRequired = (message = 'Authentication required') =>
  new XrpcError(401, 'AuthRequired', message)
export const forbidden = (message: string) => new XrpcError(403, 'AuthRequired', message)

/** Map any error to a failure body: typed errors keep their meaning, anything else is an opaque 500. */
export function toFailure(err: unknown): XrpcFailure {
  if (err instanceof XrpcError) return err.toFailure()
  if (err instanceof AtprotoError) return { status: 400, error: 'InvalidRequest', message: err.message }
  return { status: 500, error: 'InternalServerError', message: 'Internal server error' }
}

/**
 * What crosses the Durable Object RPC boundary: errors thrown inside the object
 * lose their class on the way, so expected failures travel as data.
 */
export type Outcome<T> = { ok: true; value: T } | ({ ok: false } & XrpcFailure)

export async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() }
  } catch (err) {
    const f = toFailure(err)
    if (f.status === 500) console.error('internal error', err instanceof Error ? err.stack : String(err))
    return { ok: false, ...f }
  }
}

/** Unwrap an Outcome in the Worker, rethrowing failures as XrpcError. */
export function unwrap<T>(o: Outcome<T>): T {
  if (o.ok) return o.value
  throw new XrpcError(o.status, o.error, o.message)
}

export function xrpcError(c: Context, status: ContentfulStatusCode, error: string, message: string) {
  return c.json({ error, message }, status)
}

/** Read a JSON object body, enforcing content type and size. */
export async function jsonBody(c: Context, maxBytes = 2 * 1024 * 1024): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type') ?? ''
  if (!type.toLowerCase().startsWith('application/json'))
    throw invalidRequest(`Expected application/json, got ${type || 'no content type'}`)
  const bytes = await boundedBytes(c.req.raw, maxBytes)
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw invalidRequest('Malformed JSON body')
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidRequest('Request body must be a JSON object')
  return body as Record<string, unknown>
}

/** Read at most `maxBytes` of a request body; larger bodies are a 413, without reading them whole. */
export async function boundedBytes(
  req: Pick<Request, 'headers' | 'body'>,
  maxBytes: number,
): Promise<Uint8Array> {
  const declared = Number(req.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) throw new XrpcError(413, 'PayloadTooLarge', `Body exceeds ${maxBytes} bytes`)
  if (!req.body) return new Uint8Array()
  const parts: Uint8Array[] = []
  let size = 0
  const reader = req.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > maxBytes) {
      await reader.cancel()
      throw new XrpcError(413, 'PayloadTooLarge', `Body exceeds ${maxBytes} bytes`)
    }
    parts.push(value)
  }
  return concat(parts, size)
}

/** Field readers that turn a wrong type into a clear 400. */
export function str(body: Record<string, unknown>, key: string): string {
  const v = body[key]
  if (typeof v !== 'string') throw invalidRequest(`${key} must be a string`)
  return v
}
export function optStr(body: Record<string, unknown>, key: string): string | undefined {
  return body[key] === undefined ? undefined : str(body, key)
}
