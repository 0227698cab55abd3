import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PlatformError, isPlatformError, pollUntil, sha256} from '../core/index.js'
import {inTransaction} from './transaction.js'
import type {Db, Queryable} from './types.js'

export interface Migration {
  version: string
  name: string
  file: string
  checksum: string
  sql: string
}

export interface AppliedMigration {
  version: string
  name: string
  checksum: string
  applied_at: string
}

export interface MigrationStatus {
  applied: AppliedMigration[]
  pending: Migration[]
  /** Applied files whose content no longer matches the recorded checksum. */
  changed: Array<{version: string; file: string; recorded: string; current: string}>
  /** Recorded versions with no file on disk. */
  missing: AppliedMigration[]
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/
const TABLE = 'public.platform_migrations'
// One fixed advisory-lock key for every migrator of this platform.
const LOCK_KEY = 7_100_901

/** The migrations of one directory or several (the platform's, then a project's), in version order. */
export function listMigrations(dirs: string | string[]): Migration[] {
  const seen = new Map<string, string>()
  const all = [dirs].flat().flatMap((dir) => {
    if (!existsSync(dir)) throw new PlatformError('CONFIG_INVALID', `no migrations directory at ${dir}`)
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .map((file) => {
        const m = FILE.exec(file)
        if (!m)
          throw new PlatformError('CONFIG_INVALID', `migration file ${file} is not named NNNN_name.sql`, {
            suggestion: 'rename it, e.g. 0003_add_index.sql (lower case, digits and _)',
          })
        const path = join(dir, file)
        if (seen.has(m[1]))
          throw new PlatformError('CONFIG_INVALID', `migrations ${seen.get(m[1])} and ${path} share version ${m[1]}`, {
            suggestion: 'renumber the newer one',
          })
        seen.set(m[1], path)
        const sql = readFileSync(path, 'utf8')
        return {version: m[1], name: m[2], file, checksum: sha256(sql), sql}
      })
  })
  return all.sort((a, b) => a.version.localeCompare(b.version))
}

async function appliedRows(conn: Queryable): Promise<AppliedMigration[]> {
  const exists = await conn.query<{t: string | null}>(`SELECT to_regclass('${TABLE}')::text AS t`)
  if (!exists.rows[0]?.t) return []
  const r = await conn.query<AppliedMigration & {applied_at: Date}>(
    `SELECT version, name, checksum, applied_at FROM ${TABLE} ORDER BY version`,
  )
  return r.rows.map((row) => ({...row, applied_at: new Date(row.applied_at).toISOString()}))
}

function compare(files: Migration[], applied: AppliedMigration[]): MigrationStatus {
  const byVersion = new Map(applied.map((a) => [a.version, a]))
  const fileVersions = new Set(files.map((f) => f.version))
  return {
    applied,
    pending: files.filter((f) => !byVersion.has(f.version)),
    changed: files
      .filter((f) => byVersion.has(f.version) && byVersion.get(f.version)!.checksum !== f.checksum)
      .map((f) => ({version: f.version, file: f.file, recorded: byVersion.get(f.version)!.checksum, current: f.checksum})),
    missing: applied.filter((a) => !fileVersions.has(a.version)),
  }
}

export async function migrationStatus(db: Db, dir: string | string[]): Promise<MigrationStatus> {
  return compare(listMigrations(dir), await appliedRows(db))
}

function refuseChanged(status: MigrationStatus): void {
  if (status.changed.length === 0) return
  const files = status.changed.map((c) => c.file).join(', ')
  throw new PlatformError('MIGRATION_CHANGED', `applied migration ${files} changed since it was applied (checksum differs)`, {
    suggestion: 'restore the file as it was and put the change in a new migration (`platform db new NAME`)',
  })
}

export interface MigrateOptions {
  dir: string | string[]
  dryRun?: boolean
  /** How long to wait for another migrator's lock. */
  lockTimeoutMs?: number
  onApply?: (m: Migration) => void
  sleep?: (ms: number) => Promise<void>
}

export interface MigrateResult {
  applied: Migration[]
  pending: Migration[]
  dryRun: boolean
}

async function takeLock(conn: Queryable, timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
  const locked = async () =>
    (await conn.query<{ok: boolean}>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY])).rows[0]?.ok ? true : undefined
  if (!(await pollUntil(locked, {timeoutMs, everyMs: 200, clock: {now: Date.now, sleep}}))) {
    throw new PlatformError(
      'MIGRATION_LOCK_TIMEOUT',
      `another migrator has held the migration lock for over ${Math.round(timeoutMs / 1000)} s`,
      {
        suggestion: 'wait for the other `platform db migrate` or server start to finish, then run this again',
      },
    )
  }
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session
 * advisory lock so that concurrent migrators never apply a file twice. A recorded file
 * whose checksum changed stops the run before anything is applied.
 */
export async function migrate(db: Db, opts: MigrateOptions): Promise<MigrateResult> {
  const files = listMigrations(opts.dir)
  const sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
  return db.session(async (conn) => {
    await takeLock(conn, opts.lockTimeoutMs ?? 30_000, sleep)
    try {
      await conn.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
        version text PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
      const status = compare(files, await appliedRows(conn))
      refuseChanged(status)
      if (opts.dryRun) return {applied: [], pending: status.pending, dryRun: true}
      const applied: Migration[] = []
      for (const m of status.pending) {
        await inTransaction(conn, async (tx) => {
          await tx.exec(m.sql)
          await tx.query(`INSERT INTO ${TABLE} (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum])
        }).catch((err) => {
          if (isPlatformError(err, 'DATABASE_UNAVAILABLE')) throw err
          throw new PlatformError('MIGRATION_FAILED', `migration ${m.file} failed and was rolled back: ${(err as Error).message}`, {
            cause: err,
          })
        })
        applied.push(m)
        opts.onApply?.(m)
      }
      return {applied, pending: [], dryRun: false}
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {})
    }
  })
}

/** Drops everything the migrations made, then applies them all again. */
export async function resetDatabase(db: Db, opts: MigrateOptions): Promise<MigrateResult> {
  await db.exec(`DROP SCHEMA IF EXISTS mcp_documents CASCADE; DROP TABLE IF EXISTS ${TABLE};`)
  return migrate(db, opts)
}

/** Writes the next migration file, NNNN_name.sql, into dir (numbered after every one in `after` too), and returns its path. */
export function newMigration(dir: string, name: string, after: string[] = []): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
  if (!slug)
    throw new PlatformError('USAGE', `"${name}" makes no migration name`, {
      suggestion: 'use letters and digits, e.g. `platform db new add_goal_index`',
    })
  mkdirSync(dir, {recursive: true})
  const files = listMigrations([...new Set([...after, dir])])
  const next = String((files.length ? Number(files.at(-1)!.version) : 0) + 1).padStart(4, '0')
  const path = join(dir, `${next}_${slug}.sql`)
  writeFileSync(
    path,
    `-- ${next}_${slug}: ${name}\n-- Runs once, in its own transaction. Never edit it after it was applied: add a new one.\n\n`,
    {flag: 'wx'},
  )
  return path
}
