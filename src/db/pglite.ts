import {mkdirSync, realpathSync} from 'node:fs'
import {resolve} from 'node:path'
import type {PGlite} from '@electric-sql/pglite'
import {PlatformError, acquireLock} from '../core/index.js'
import {translateDbError} from './errors.js'
import {Mutex} from './mutex.js'
import {inTransaction} from './transaction.js'
import type {Db, Queryable, QueryResult} from './types.js'

export const MEMORY = 'memory://'

/**
 * PGlite is one backend in this process: every query, transaction and session is
 * serialised through one mutex, so a statement never lands inside another caller's
 * transaction.
 */
export async function openPglite(dataDir: string): Promise<Db> {
  const memory = dataDir === MEMORY
  // Resolved through symlinks first: two paths to one directory must take one lock.
  if (!memory) mkdirSync(resolve(dataDir), {recursive: true})
  const dir = memory ? MEMORY : realpathSync(dataDir)
  const release = memory ? () => {} : acquireLock(`${dir}.lock`, `the database ${dir}`)
  let pg: PGlite
  try {
    const {PGlite} = await import('@electric-sql/pglite')
    pg = memory ? new PGlite() : new PGlite(dir)
    await pg.waitReady
  } catch (err) {
    release()
    // PGlite's own failures can come without a message (an Emscripten abort): say what failed.
    const why = (err as Error)?.message || String(err) || 'PGlite failed to start'
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `cannot open the PGlite database in ${dir}: ${why}`, {
      cause: err,
      suggestion:
        'check that the directory is writable and holds PGlite data (or is empty); `--db postgres` uses the embedded PostgreSQL instead',
    })
  }

  const raw: Queryable = {
    async query<R>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
      try {
        const r = await pg.query<R>(sql, params)
        return {rows: r.rows, rowCount: r.affectedRows ?? r.rows.length}
      } catch (err) {
        throw translateDbError(err)
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await pg.exec(sql)
      } catch (err) {
        throw translateDbError(err)
      }
    },
  }
  const mutex = new Mutex()

  return {
    kind: 'pglite',
    location: memory ? 'memory' : dir,
    query: (sql, params) => mutex.run(() => raw.query(sql, params)),
    exec: (sql) => mutex.run(() => raw.exec(sql)),
    transaction: (fn) => mutex.run(() => inTransaction(raw, fn)),
    session: (fn) => mutex.run(() => fn(raw)),
    async close() {
      await mutex.run(async () => {
        if (!pg.closed) await pg.close()
      })
      release()
    },
  }
}
