import type {FastifyServerOptions} from 'fastify'
import {internalKey, migrationsDir, packageVersion, type PlatformConfig} from '../core/index.js'
import {buildDataLayer} from '../data-layer/index.js'
import {migrate, openDb, type Db} from '../db/index.js'
import {listen} from '../server/index.js'

export interface RunningService {
  name: string
  url: string
  /** Stops accepting, drains in-flight requests, then releases what the service holds. */
  close(): Promise<void>
}

export interface StartOptions {
  logger?: FastifyServerOptions['logger']
  /** Told about each migration applied at start. */
  onMigrate?: (file: string) => void
}

/**
 * L01 on this machine: opens the configured database (PGlite, or PostgreSQL when there
 * is a URL), applies pending migrations under the lock, and listens.
 */
export async function startDataLayer(config: PlatformConfig, opts: StartOptions = {}): Promise<RunningService & {db: Db}> {
  const db = await openDb(config)
  try {
    await migrate(db, {dir: migrationsDir(), lockTimeoutMs: config.migrationLockTimeoutMs, onApply: (m) => opts.onMigrate?.(m.file)})
    const app = buildDataLayer({db, apiKeys: [internalKey(config)], version: packageVersion(), logger: opts.logger})
    const url = await listen(app, config.dataLayer, 'the data layer (L01)')
    return {
      name: 'l01-data-layer',
      url,
      db,
      async close() {
        try {
          await app.close()
        } finally {
          await db.close()
        }
      },
    }
  } catch (err) {
    await db.close()
    throw err
  }
}
