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

function isConnectionFailure(e: DriverError): boolean {
  if (e.code && (CONNECTION_ERRNOS.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true
  const msg = e.message ?? ''
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|the database system is (starting up|shutting down)/i.test(msg)
}

/** Field named by a constraint violation's detail, e.g. `Key (agent_id)=(...) is not present`. */
function fieldOf(e: DriverError): string {
  const m = /Key \(([^)]+)\)/.exec(e.detail ?? '')
  return m?.[1] ?? e.column ?? e.constraint ?? 'value'
}

/**
 * Turns a driver error into the catalogue's terms, so callers see the same errors on
 * both drivers: unreachable database, duplicates, dangling references, bad values.
 * Anything unknown is left as it is (it becomes an INTERNAL error without its SQL).
 */
export function translateDbError(err: unknown): unknown {
  if (err instanceof PlatformError || typeof err !== 'object' || err === null) return err
  const e = err as DriverError
  if (isConnectionFailure(e)) {
    return new PlatformError('DATABASE_UNAVAILABLE', 'the database is unavailable', {cause: err, suggestion: 'check that PostgreSQL is running and DATABASE_URL is right'})
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
