import type {IncomingHttpHeaders} from 'node:http'
import {PlatformError, isPlatformError, sha256} from '../core/index.js'
import type {Db} from '../db/index.js'
import {insertSql, type TableSpec, type Values} from './table.js'

/**
 * Idempotent creates: a create sent with an Idempotency-Key is recorded, in the same
 * statement as its row, with a hash of its body and the row's JSON text as answered. The same key
 * (per route, for 24 hours) with the same body answers that row again; with another body
 * it is refused. Creates without the header are untouched.
 */

export const KEY_HEADER = 'idempotency-key'
export const REPLAY_HEADER = 'idempotent-replay'
const MAX_KEY_LENGTH = 255
const KEYS = 'mcp_documents.idempotency_keys'
/** Records are honoured for this long. */
const TTL = `interval '24 hours'`
/** Expired records are deleted, a bounded batch at a time, once every this many keyed creates. */
const PURGE_EVERY = 100
const PURGE_BATCH = 1000

/** The request's Idempotency-Key, or undefined without one; a 400 naming the header when it is empty or too long. */
export function idempotencyKey(headers: IncomingHttpHeaders): string | undefined {
  const key = headers[KEY_HEADER]
  if (key === undefined) return undefined
  if (typeof key !== 'string' || key.length < 1 || key.length > MAX_KEY_LENGTH) {
    const message = `must be 1 to ${MAX_KEY_LENGTH} characters`
    throw new PlatformError('VALIDATION_FAILED', `Idempotency-Key ${message}`, {details: [{field: 'Idempotency-Key', message}]})
  }
  return key
}

/** JSON with every object's keys sorted: one text for bodies that differ only in key order or spacing. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export const bodyHash = (body: unknown): string => sha256(canonical(body))

export interface Created {
  /** the row as JSON text, byte for byte what the first request was answered */
  json: string
  /** true when the row was created by an earlier request with this key */
  replay: boolean
}

/** The keyed creates of one L01 process: the records in the database, and the keys whose first request is still running here. */
export class IdempotentCreates {
  readonly #db: Db
  readonly #inFlight = new Set<string>()
  #creates = 0

  constructor(db: Db) {
    this.#db = db
  }

  /**
   * Inserts values into the route's table under key, or answers what the key already
   * holds. The insert is tried first: a first attempt costs one statement, and only a
   * conflict (the key, or a client-sent id, already taken) looks the key up.
   */
  async create(spec: TableSpec, route: string, key: string, hash: string, values: Values): Promise<Created> {
    const slot = `${route} ${key}`
    if (this.#inFlight.has(slot)) {
      throw new PlatformError('CONFLICT', 'a request with this Idempotency-Key is still being processed; retry later', {
        details: [{field: 'Idempotency-Key', message: 'is in use by a request still being processed'}],
      })
    }
    this.#inFlight.add(slot)
    try {
      if (++this.#creates % PURGE_EVERY === 0) void this.purgeExpired().catch(() => {})
      for (let retried = false; ; retried = true) {
        try {
          return {json: await this.#insert(spec, route, key, hash, values), replay: false}
        } catch (err) {
          if (!isPlatformError(err, 'CONFLICT')) throw err
          const kept = await this.#lookup(route, key)
          if (kept) {
            if (kept.hash !== hash) {
              const message = 'this Idempotency-Key was used with a different body; use a new key for a new request'
              const details = [{field: 'Idempotency-Key', message: 'was used with a different body'}]
              throw new PlatformError('IDEMPOTENCY_MISMATCH', message, {details})
            }
            return {json: kept.json, replay: true}
          }
          // An expired record still holds the key: drop it and try once more.
          if (retried || !(await this.#dropExpired(route, key))) throw err
        }
      }
    } finally {
      this.#inFlight.delete(slot)
    }
  }

  async #insert(spec: TableSpec, route: string, key: string, hash: string, values: Values): Promise<string> {
    const params: unknown[] = []
    const insert = insertSql(spec, values, params)
    const n = params.push(route, key, hash)
    const sql = `WITH created AS (${insert}),
      kept AS (INSERT INTO ${KEYS} (route, key, body_hash, response) SELECT $${n - 2}, $${n - 1}, $${n}, j FROM created)
      SELECT j FROM created`
    return (await this.#db.query<{j: string}>(sql, params)).rows[0]!.j
  }

  /** The live record of a key: its body's hash and the answer it was given. */
  async #lookup(route: string, key: string): Promise<{hash: string; json: string} | undefined> {
    const r = await this.#db.query<{hash: string; json: string}>(
      `SELECT body_hash AS hash, response AS json FROM ${KEYS} WHERE route = $1 AND key = $2 AND created_at > now() - ${TTL}`,
      [route, key],
    )
    return r.rows[0]
  }

  async #dropExpired(route: string, key: string): Promise<boolean> {
    const r = await this.#db.query(`DELETE FROM ${KEYS} WHERE route = $1 AND key = $2 AND created_at <= now() - ${TTL}`, [route, key])
    return r.rowCount > 0
  }

  /** Deletes up to a batch of expired records; returns how many. */
  async purgeExpired(): Promise<number> {
    const expired = `SELECT route, key FROM ${KEYS} WHERE created_at <= now() - ${TTL} LIMIT ${PURGE_BATCH}`
    const r = await this.#db.query(`DELETE FROM ${KEYS} WHERE (route, key) IN (${expired})`)
    return r.rowCount
  }
}
