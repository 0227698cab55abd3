import type {Queryable} from '../db/index.js'

/** A SQL expression written into a statement as it is (never user input). */
export class Raw {
  constructor(readonly sql: string) {}
}
export const raw = (sql: string): Raw => new Raw(sql)

export type Row = Record<string, unknown>
export type Values = Record<string, unknown>

export interface TableSpec {
  /** Table name inside mcp_documents. */
  name: string
  key: string
  /** Columns stored as JSONB: passed as JSON text, since pg would turn a JS array into a PostgreSQL array. */
  jsonb: ReadonlySet<string>
}

export interface ListQuery {
  filters: Values
  limit: number
  offset: number
}

/** Dates become ISO 8601 UTC strings; the internal ordering column stays inside. */
export function toJson(row: Row): Row {
  const out: Row = {}
  for (const [k, v] of Object.entries(row)) {
    if (k === 'seq') continue
    out[k] = v instanceof Date ? v.toISOString() : v
  }
  return out
}

/** Column list and placeholders for values, with JSONB casts and raw expressions. */
function bind(spec: TableSpec, values: Values, params: unknown[]): Array<[string, string]> {
  return Object.entries(values).map(([col, v]) => {
    if (v instanceof Raw) return [col, v.sql]
    params.push(spec.jsonb.has(col) ? JSON.stringify(v) : v)
    return [col, spec.jsonb.has(col) ? `$${params.length}::jsonb` : `$${params.length}`]
  })
}

const qualified = (spec: TableSpec) => `mcp_documents.${spec.name}`

export async function insertRow(db: Queryable, spec: TableSpec, values: Values): Promise<Row> {
  const params: unknown[] = []
  const pairs = bind(spec, values, params)
  const sql = `INSERT INTO ${qualified(spec)} (${pairs.map(([c]) => c).join(', ')}) VALUES (${pairs.map(([, p]) => p).join(', ')}) RETURNING *`
  const r = await db.query<Row>(sql, params)
  return toJson(r.rows[0]!)
}

export async function updateRow(db: Queryable, spec: TableSpec, key: string, values: Values): Promise<Row | undefined> {
  const params: unknown[] = [key]
  const sets = bind(spec, values, params).map(([c, p]) => `${c} = ${p}`)
  sets.push('updated_at = now()')
  const r = await db.query<Row>(`UPDATE ${qualified(spec)} SET ${sets.join(', ')} WHERE ${spec.key} = $1 RETURNING *`, params)
  return r.rows[0] && toJson(r.rows[0])
}

export async function getRow(db: Queryable, spec: TableSpec, key: string): Promise<Row | undefined> {
  const r = await db.query<Row>(`SELECT * FROM ${qualified(spec)} WHERE ${spec.key} = $1`, [key])
  return r.rows[0] && toJson(r.rows[0])
}

export async function deleteRow(db: Queryable, spec: TableSpec, key: string): Promise<boolean> {
  const r = await db.query(`DELETE FROM ${qualified(spec)} WHERE ${spec.key} = $1`, [key])
  return r.rowCount > 0
}

/** A page of rows, newest first, and the total that match the filters. */
export async function listRows(db: Queryable, spec: TableSpec, q: ListQuery): Promise<{items: Row[]; total: number}> {
  const params: unknown[] = []
  const where = Object.entries(q.filters)
    .filter(([, v]) => v !== undefined)
    .map(([col, v]) => {
      params.push(v)
      return `${col} = $${params.length}`
    })
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : ''
  const count = await db.query<{total: number}>(`SELECT count(*)::int AS total FROM ${qualified(spec)} ${clause}`, params)
  const page = await db.query<Row>(`SELECT * FROM ${qualified(spec)} ${clause} ORDER BY seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [...params, q.limit, q.offset])
  return {items: page.rows.map(toJson), total: count.rows[0]!.total}
}
