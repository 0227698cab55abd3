import {openPg} from './pg.js'
import {openPglite} from './pglite.js'
import type {Db, DbOptions} from './types.js'

/** PostgreSQL when a URL is given, else PGlite in dataDir (default `.platform/data`). */
export function openDb(opts: DbOptions = {}): Promise<Db> {
  if (opts.databaseUrl) return openPg(opts.databaseUrl, opts.poolSize)
  return openPglite(opts.dataDir ?? '.platform/data')
}
