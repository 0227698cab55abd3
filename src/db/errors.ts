import {PlatformError, validationError} from '../core/index.js'

const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN'])
// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash, cannot connect now).
const UNAVAILABLE_SQLSTATE = /^(08|57P)/

interface DriverError {
  code?: string
  message?: string
  constraint?: string
  detail?: string
  column?: string
}

// What node-postgres and the server say when the server is gone or not ready yet.
const CONNECTION_MESSAGES = new RegExp(
  [
    'Connection terminated',
    'timeout exceeded when trying to connect',
    'Client has encountered a connection error',
    'connect ECONNREFUSED',
    'the database system is (starting up|shutting down)',
  ].join('|'),
  'i',
)

function isConnectionFailure(e: DriverError): boolean {
  if (e.code && (CONNECTION_ERRNOS.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true
  const msg = e.message ?? ''
  return CONNECTION_MESSAGES.test(msg)
}

/** Field named by a constraint violation's detail, e.g. `Key (agent_id)=(...) is not present`. */
function fieldOf(e: DriverError): string {
  const m = /Key \(([^)]+)\)/.exec(e.detail ?? '')
  return m?.[1] ?? e.column ?? e.constraint ?? 'value'
}

/** Why a connection failed, in a person's words. */
function connectionCause(e: DriverError): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'no such host'
    case 'ETIMEDOUT':
      return 'no answer (timed out)'
    case 'EHOSTUNREACH':
      return 'host unreachable'
  }
  if (/timeout exceeded when trying to connect/i.test(e.message ?? '')) return 'no answer (timed out)'
  if (/starting up|shutting down/i.test(e.message ?? '')) return 'it is starting up or shutting down'
  return 'the connection was lost'
}

/**
 * Turns a driver error into the catalogue's terms, so callers see the same errors on
 * both drivers: unreachable database, duplicates, dangling references, bad values.
 * Anything unknown is left as it is (it becomes an INTERNAL error without its SQL).
 * `where` names the database (host and port, never a password).
 */
export function translateDbError(err: unknown, where?: string): unknown {
  if (err instanceof PlatformError || typeof err !== 'object' || err === null) return err
  const e = err as DriverError
  if (isConnectionFailure(e)) {
    const at = where ? ` at ${where}` : ''
    return new PlatformError('DATABASE_UNAVAILABLE', `the database${at} is unavailable: ${connectionCause(e)}`, {
      cause: err,
      suggestion: `check that PostgreSQL is running${at} and that DATABASE_URL is right`,
    })
  }
  switch (e.code) {
    case '23505': {
      const field = fieldOf(e)
      return new PlatformError('CONFLICT', `${field} already exists`, {details: [{field, message: 'already exists'}], cause: err})
    }
    case '23503': {
      const field = fieldOf(e)
      const value = /=\(([^)]*)\)/.exec(e.detail ?? '')?.[1]
      return validationError(field, value ? `no such ${field.replace(/_id$/, '')}: ${value}` : 'refers to nothing')
    }
    case '23514':
      return validationError(e.constraint ?? 'value', 'violates a check constraint')
    case '22021':
      return validationError('value', 'contains a byte PostgreSQL cannot store (NUL)')
    case '22P02':
      return validationError('value', 'malformed value')
    default:
      return err
  }
}
