/** What every driver offers. The same SQL runs on both drivers. */
export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
  /** Runs a script of several statements with no parameters (migrations). */
  exec(sql: string): Promise<void>
}

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite'
  /** Where the data lives, for people: a PGlite path, `memory`, or the PostgreSQL host and database. */
  readonly location: string
  /** Runs fn in one transaction on one connection: COMMIT if it resolves, ROLLBACK if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Lends one connection for the whole of fn (session-level state such as advisory locks). */
  session<T>(fn: (conn: Queryable) => Promise<T>): Promise<T>
  close(): Promise<void>
}

export interface DbOptions {
  /** A PostgreSQL URL; when set the pg driver is used. */
  databaseUrl?: string
  /** PGlite data directory, or 'memory://' for an in-memory database. */
  dataDir?: string
  /** Pool size for pg. */
  poolSize?: number
}
