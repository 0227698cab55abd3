/**
 * Runs a suite on both drivers: PGlite in memory and a fresh database on the test
 * PostgreSQL cluster. Each call gets its own empty, migrated database.
 */
import {randomBytes} from 'node:crypto'
import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, describe, inject} from 'vitest'
import type {} from './setup-postgres.js' // declares the provided pgUrl
import {migrationsDir} from '../../src/core/index.js'
import {buildDataLayer} from '../../src/data-layer/index.js'
import {MEMORY, migrate, openDb, type Db} from '../../src/db/index.js'

export type DbKind = 'pglite' | 'pg'

export const pgUrl = (): string | undefined => inject('pgUrl')

/** A new empty PostgreSQL database on the test cluster; returns its URL. */
export async function createPgDatabase(): Promise<string> {
  const base = pgUrl()
  if (!base) throw new Error('no test PostgreSQL cluster')
  const name = `t_${randomBytes(6).toString('hex')}`
  const admin = await openDb({databaseUrl: base, poolSize: 1})
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.close()
  }
  const url = new URL(base)
  url.pathname = `/${name}`
  return url.toString()
}

/** An empty database of the given kind, not migrated. */
export async function freshDb(kind: DbKind): Promise<Db> {
  return kind === 'pglite' ? openDb({dataDir: MEMORY}) : openDb({databaseUrl: await createPgDatabase()})
}

export async function migratedDb(kind: DbKind): Promise<Db> {
  const db = await freshDb(kind)
  await migrate(db, {dir: migrationsDir()})
  return db
}

/** describe() once per driver; the pg run is skipped (outside CI only) when there is no cluster. */
export function describeEachDb(name: string, fn: (kind: DbKind) => void): void {
  for (const kind of ['pglite', 'pg'] as const) {
    const missing = kind === 'pg' && !pgUrl()
    describe.skipIf(missing)(`${name} [${kind}]`, () => fn(kind))
  }
}

/**
 * A migrated database of the kind and L01 on it (not listening: tests use inject()), made
 * before the block's tests and closed after them. Read .db and .app inside the tests.
 */
export function dataLayerOn(kind: DbKind, key: string): {readonly db: Db; readonly app: FastifyInstance} {
  const fixture: {db?: Db; app?: FastifyInstance} = {}
  beforeAll(async () => {
    fixture.db = await migratedDb(kind)
    fixture.app = buildDataLayer({db: fixture.db, apiKeys: [key], version: 'test'})
    await fixture.app.ready()
  })
  afterAll(async () => {
    await fixture.app?.close()
    await fixture.db?.close()
  })
  return {
    get db() {
      return fixture.db!
    },
    get app() {
      return fixture.app!
    },
  }
}
