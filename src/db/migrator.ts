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
  /** Applied files whose content no longer matches the recorded checksum (name: the record's). */
  changed: Array<{version: string; name: string; file: string; recorded: string; current: string}>
  /** Recorded versions with no file on disk. */
  missing: AppliedMigration[]
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/
const TABLE = 'public.platform_migrations'
// One fixed advisory-lock key for every migrator of this platform.
const LOCK_KEY = 7_100_901

/**
 * The migrations of one directory or several (the platform's, then a project's), in version
 * order, the platform's first where a project's has the same version: a project numbered its
 * own after the platform's of its day, and a later platform may bring one of that number.
 */
export function listMigrations(dirs: string | string[]): Migration[] {
  const seen = new Map<string, string>()
  const all = [dirs].flat().flatMap((dir) => {
    if (!existsSync(dir)) throw new PlatformError('CONFIG_INVALID', `no migrations directory at ${dir}`)
    const versions = new Map<string, string>()
    return readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .map((file) => {
        const m = FILE.exec(file)
        if (!m)
          throw new PlatformError('CONFIG_INVALID', `migration file ${file} is not named NNNN_name.sql`, {
            suggestion: 'rename it, e.g. 0003_add_index.sql (lower case, digits and _)',
          })
        const path = join(dir, file)
        const clash = versions.get(m[1]) ?? seen.get(file)
        if (clash)
          throw new PlatformError(
            'CONFIG_INVALID',
            `migrations ${clash} and ${path} share ${seen.has(file) ? 'a name' : `version ${m[1]}`}`,
            {
              suggestion: 'renumber or rename the newer one',
            },
          )
        versions.set(m[1], path)
        seen.set(file, path)
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

/**
 * Pairs each file with its record: the one of its version and name; else (a file renamed since it
 * was applied) the free one of its version with the same content, or, when no other file has that
 * version, the free one of its version.
 */
function compare(files: Migration[], applied: AppliedMigration[]): MigrationStatus {
  const byName = new Map(applied.map((a) => [`${a.version}_${a.name}`, a]))
  const records = new Map<Migration, AppliedMigration>()
  const taken = new Set<AppliedMigration>()
  const pair = (f: Migration, r: AppliedMigration | undefined) => {
    if (!r) return
    records.set(f, r)
    taken.add(r)
  }
  for (const f of files) pair(f, byName.get(`${f.version}_${f.name}`))
  for (const f of files.filter((f) => !records.has(f))) {
    const free = applied.filter((a) => a.version === f.version && !taken.has(a))
    const alone = files.filter((g) => g.version === f.version).length === 1
    pair(f, free.find((a) => a.checksum === f.checksum) ?? (alone ? free[0] : undefined))
  }
  const changed = files.filter((f) => records.has(f) && records.get(f)!.checksum !== f.checksum)
  return {
    applied,
    pending: files.filter((f) => !records.has(f)),
    changed: changed.map((f) => {
      const r = records.get(f)!
      return {version: f.version, name: r.name, file: f.file, recorded: r.checksum, current: f.checksum}
    }),
    missing: applied.filter((a) => !taken.has(a)),
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
        version text NOT NULL,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (version, name)
      );
      -- Records made before a platform and a project migration could share a version were keyed by version alone.
      DO $$ BEGIN
        IF (SELECT cardinality(conkey) FROM pg_constraint WHERE conrelid = '${TABLE}'::regclass AND contype = 'p') = 1 THEN
          ALTER TABLE ${TABLE} DROP CONSTRAINT platform_migrations_pkey, ADD PRIMARY KEY (version, name);
        END IF;
      END $$`)
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
