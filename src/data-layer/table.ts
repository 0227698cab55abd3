import type {Queryable} from '../db/index.js'

/** A SQL expression written into a statement as it is (never user input). */
export class Raw {
  constructor(readonly sql: string) {}
}
export const raw = (sql: string): Raw => new Raw(sql)

export type Values = Record<string, unknown>

/** How a value is written: as it is, or as JSON text cast to JSONB. */
export type ColumnKind = 'value' | 'jsonb'

export interface TableSpec {
  /** Table name inside mcp_documents. */
  name: string
  key: string
  /**
   * Every column the API shows, in table order (the internal `seq` and `doc` are none). The
   * JSON a row answers is its `doc`, which migration 0005's trigger renders from the same columns.
   */
  columns: Record<string, ColumnKind>
}

export interface ListQuery {
  filters: Values
  limit: number
  offset: number
  /** Count every match, however many (`?count=exact`). */
  exactCount?: boolean
  /** Where the planner's estimates of large matches are kept; asked each time without. */
  estimates?: Estimates
}

/**
 * The planner's estimates of large matches, each kept for ttlMs: the figure moves only as the
 * table's statistics do, and asking for it is a second round trip that a list of a large match
 * would otherwise make every time. At most `max` are kept, the oldest given up first.
 */
export class Estimates {
  readonly #kept = new Map<string, {n: number; at: number}>()
  constructor(readonly opts: {ttlMs?: number; max?: number; now?: () => number} = {}) {}

  async get(key: string, ask: () => Promise<number>): Promise<number> {
    const now = (this.opts.now ?? Date.now)()
    const hit = this.#kept.get(key)
    if (hit && now - hit.at < (this.opts.ttlMs ?? 5000)) return hit.n
    const n = await ask()
    this.#kept.delete(key)
    if (this.#kept.size >= (this.opts.max ?? 1000)) this.#kept.delete(this.#kept.keys().next().value!)
    this.#kept.set(key, {n, at: now})
    return n
  }
}

/** A page as JSON text in the contract's shape, and how it was counted. */
export interface Page {
  json: string
  total: number
  exact: boolean
}

/**
 * Up to this many matches `total` is exact; beyond, it is PostgreSQL's estimate, so a list
 * costs the same at a million rows as at ten thousand.
 */
export const EXACT_COUNT_LIMIT = 10_000

const qualified = (spec: TableSpec) => `mcp_documents.${spec.name}`

/** Column list and placeholders for values, with JSONB casts and raw expressions. */
function bind(spec: TableSpec, values: Values, params: unknown[]): Array<[string, string]> {
  return Object.entries(values).map(([col, v]) => {
    if (v instanceof Raw) return [col, v.sql]
    // JSON text, since pg would turn a JS array into a PostgreSQL array.
    const jsonb = spec.columns[col] === 'jsonb'
    params.push(jsonb ? JSON.stringify(v) : v)
    return [col, jsonb ? `$${params.length}::jsonb` : `$${params.length}`]
  })
}

const one = async (db: Queryable, sql: string, params: unknown[]): Promise<string | undefined> =>
  (await db.query<{j: string}>(sql, params)).rows[0]?.j

/** The INSERT of one row, returning it as JSON text in column j; its parameters are appended to params. */
export function insertSql(spec: TableSpec, values: Values, params: unknown[]): string {
  const pairs = bind(spec, values, params)
  const columns = pairs.map(([c]) => c).join(', ')
  return `INSERT INTO ${qualified(spec)} (${columns}) VALUES (${pairs.map(([, p]) => p).join(', ')}) RETURNING doc AS j`
}

/** Inserts a row; returns it as JSON text. */
export async function insertRow(db: Queryable, spec: TableSpec, values: Values): Promise<string> {
  const params: unknown[] = []
  return (await one(db, insertSql(spec, values, params), params))!
}

export async function updateRow(db: Queryable, spec: TableSpec, key: string, values: Values): Promise<string | undefined> {
  const params: unknown[] = [key]
  const sets = bind(spec, values, params).map(([c, p]) => `${c} = ${p}`)
  sets.push('updated_at = now()')
  return one(db, `UPDATE ${qualified(spec)} SET ${sets.join(', ')} WHERE ${spec.key} = $1 RETURNING doc AS j`, params)
}

export async function getRow(db: Queryable, spec: TableSpec, key: string): Promise<string | undefined> {
  return one(db, `SELECT doc AS j FROM ${qualified(spec)} WHERE ${spec.key} = $1`, [key])
}

export async function deleteRow(db: Queryable, spec: TableSpec, key: string): Promise<boolean> {
  const r = await db.query(`DELETE FROM ${qualified(spec)} WHERE ${spec.key} = $1`, [key])
  return r.rowCount > 0
}

/** PostgreSQL's own estimate of how many rows a query returns (the planner's, no scan). */
async function estimate(db: Queryable, sql: string, params: unknown[]): Promise<number> {
  const r = await db.query<{'QUERY PLAN': Array<{Plan: {'Plan Rows': number}}>}>(`EXPLAIN (FORMAT JSON) ${sql}`, params)
  return Math.round(r.rows[0]!['QUERY PLAN'][0]!.Plan['Plan Rows'])
}

/**
 * A page of rows, newest first, as JSON text, and the total that match the
 * filters: exact up to EXACT_COUNT_LIMIT, the planner's estimate beyond it, exact however
 * many with exactCount. With no filter but status the total is the sum the triggers keep
 * (migration 0004), so nothing is counted; other filters count, stopping past the limit.
 */
export async function listRows(db: Queryable, spec: TableSpec, q: ListQuery): Promise<Page> {
  const params: unknown[] = []
  const used = Object.entries(q.filters).filter(([, v]) => v !== undefined)
  const where = used.map(([col, v]) => {
    params.push(v)
    return `${col} = $${params.length}`
  })
  const matches = `FROM ${qualified(spec)} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`
  // The rows' JSON texts joined: nothing is rendered on a read (see migration 0005).
  const page = `(SELECT '[' || coalesce(string_agg(doc, ',' ORDER BY seq DESC), '') || ']' FROM (SELECT seq, doc ${matches}
    ORDER BY seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}) p) AS items`
  const pageParams = [...params, q.limit, q.offset]

  const counted = q.exactCount
    ? `(SELECT count(*) ${matches})`
    : used.every(([col]) => col === 'status')
      ? `(SELECT coalesce(sum(n), 0) FROM mcp_documents.row_counts WHERE tbl = '${spec.name}'${used.length ? ' AND status = $1' : ''})`
      : `(SELECT count(*) FROM (SELECT 1 ${matches} LIMIT ${EXACT_COUNT_LIMIT + 1}) c)`
  const r = await db.query<{items: string; total: string}>(`SELECT ${counted}::text AS total, ${page}`, pageParams)
  const {items, total} = r.rows[0]!
  const n = Number(total)
  if (q.exactCount || n <= EXACT_COUNT_LIMIT) return {json: items, total: n, exact: true}
  // A large match: the planner's figure, which may lag the table, but never below the limit.
  const ask = () => estimate(db, `SELECT 1 ${matches}`, params)
  const planned = q.estimates ? await q.estimates.get(`${spec.name} ${JSON.stringify(used)}`, ask) : await ask()
  return {json: items, total: Math.max(planned, EXACT_COUNT_LIMIT + 1), exact: false}
}

/** The contract's list answer around a page that is already JSON text. */
export const listBody = (p: Page, limit: number, offset: number): string =>
  `{"items":${p.json},"total":${p.total},"limit":${limit},"offset":${offset},"total_exact":${p.exact}}`
