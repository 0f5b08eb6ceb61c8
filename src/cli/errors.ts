/**
 * The CLI's failures and their exit codes: 1 for anything the network or a
 * file said no to, 2 for a command used the wrong way.
 */

export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A usage error (exit 2): a bad argument or option value, or missing configuration. */
export function usage(message: string): CliError {
  return new CliError(message, EXIT_USAGE)
}

/** An XRPC call the network answered with an error: `{error, message}` and the HTTP status. */
export class XrpcCallError extends CliError {
  constructor(
    readonly method: string,
    readonly status: number,
    readonly error: string,
    readonly detail: string,
  ) {
    super(detail ? `${error}: ${detail}` : `${error} (HTTP ${status} from ${method})`)
  }
}
