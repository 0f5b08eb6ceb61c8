import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** The XRPC error body every failure uses: `{error, message}`. Never a stack trace. */
export class XrpcError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: string,
    message: string,
  ) {
    super(message)
  }
}

export function xrpcError(c: Context, status: ContentfulStatusCode, error: string, message: string) {
  return c.json({ error, message }, status)
}
