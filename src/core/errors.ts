/**
 * The one error catalogue. Every failure the platform reports, over HTTP or on the
 * command line, carries one of these stable codes; the catalogue fixes its HTTP status
 * and the CLI exit code (0 ok, 1 failed check, 2 usage or configuration, 3 environment, 5 a load run's generators failed it).
 */
export const CATALOGUE = {
  VALIDATION_FAILED: {status: 400, exit: 2},
  UNAUTHORIZED: {status: 401, exit: 2},
  NOT_FOUND: {status: 404, exit: 2},
  CONFLICT: {status: 409, exit: 1},
  PAYLOAD_TOO_LARGE: {status: 413, exit: 2},
  UNSUPPORTED_MEDIA_TYPE: {status: 415, exit: 2},
  IDEMPOTENCY_MISMATCH: {status: 422, exit: 2},
  INTERNAL: {status: 500, exit: 1},
  UPSTREAM_UNAVAILABLE: {status: 503, exit: 3},
  DATABASE_UNAVAILABLE: {status: 503, exit: 3},
  // Refused by the HTTP layer before routing: malformed framing, oversized headers, a request too slow to arrive.
  BAD_REQUEST: {status: 400, exit: 2},
  HEADERS_TOO_LARGE: {status: 431, exit: 2},
  REQUEST_TIMEOUT: {status: 408, exit: 3},
  // CLI and runtime failures that never travel over HTTP as such.
  CONFIG_INVALID: {status: 500, exit: 2},
  USAGE: {status: 400, exit: 2},
  DATABASE_LOCKED: {status: 503, exit: 3},
  LOCKED: {status: 409, exit: 1},
  PORT_IN_USE: {status: 503, exit: 3},
  ENVIRONMENT_UNAVAILABLE: {status: 503, exit: 3},
  MIGRATION_LOCK_TIMEOUT: {status: 503, exit: 3},
  MIGRATION_CHANGED: {status: 500, exit: 1},
  MIGRATION_FAILED: {status: 500, exit: 1},
  CHECK_FAILED: {status: 500, exit: 1},
  INTERRUPTED: {status: 503, exit: 130},
  // A distributed load run's generator that never registered, never got ready, or could not run: as an invalid run, exit 5.
  GENERATOR_LOST: {status: 503, exit: 5},
} as const

export type ErrorCode = keyof typeof CATALOGUE

export interface ErrorDetail {
  field?: string
  message: string
  allowed?: readonly string[]
}

export interface ErrorBody {
  error: ErrorCode
  message: string
  details?: ErrorDetail[]
}

export class PlatformError extends Error {
  readonly code: ErrorCode
  readonly details?: ErrorDetail[]
  /** What the user can do about it; shown by the CLI, never sent over HTTP. */
  readonly suggestion?: string

  constructor(code: ErrorCode, message: string, opts: {details?: ErrorDetail[]; suggestion?: string; cause?: unknown} = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'PlatformError'
    this.code = code
    this.details = opts.details
    this.suggestion = opts.suggestion
  }

  get status(): number {
    return CATALOGUE[this.code].status
  }

  get exitCode(): number {
    return CATALOGUE[this.code].exit
  }

  toBody(): ErrorBody {
    return this.details?.length
      ? {error: this.code, message: this.message, details: this.details}
      : {error: this.code, message: this.message}
  }
}

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(CATALOGUE, code)

export function isPlatformError(err: unknown, code?: ErrorCode): err is PlatformError {
  return err instanceof PlatformError && (code === undefined || err.code === code)
}

export const validationError = (field: string, message: string, allowed?: readonly string[]): PlatformError =>
  new PlatformError('VALIDATION_FAILED', `${field}: ${message}`, {details: [{field, message, ...(allowed ? {allowed} : {})}]})
