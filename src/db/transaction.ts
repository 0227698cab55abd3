import type {Queryable} from './types.js'

/** BEGIN / COMMIT around fn on one connection, ROLLBACK when it throws. */
export async function inTransaction<T>(conn: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  await conn.query('BEGIN')
  try {
    const result = await fn(conn)
    await conn.query('COMMIT')
    return result
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {})
    throw err
  }
}
