/**
 * Typed errors for the atproto core. Callers match on `code` (or `instanceof`),
 * never on message text.
 */
export type AtprotoErrorCode =
  | 'InvalidSyntax'
  | 'InvalidCbor'
  | 'InvalidCid'
  | 'InvalidCar'
  | 'InvalidVarint'
  | 'InvalidMultibase'
  | 'InvalidKey'
  | 'InvalidDid'
  | 'InvalidSignature'
  | 'InvalidMst'
  | 'InvalidCommit'
  | 'InvalidProof'
  | 'MissingBlock'
  | 'InvalidLexicon'
  | 'InvalidRecord'

export class AtprotoError extends Error {
  override readonly name = 'AtprotoError'
  constructor(
    readonly code: AtprotoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** Throw a typed error; keeps call sites one line. */
export function fail(code: AtprotoErrorCode, message: string, cause?: unknown): never {
  throw new AtprotoError(code, message, cause === undefined ? undefined : { cause })
}

/** Run `fn`, turning any untyped exception into an AtprotoError with `code`. */
export function guard<T>(code: AtprotoErrorCode, what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof AtprotoError) throw err
    return fail(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, err)
  }
}
