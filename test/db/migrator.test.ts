import {cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync, appendFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, expect, it} from 'vitest'
import {isPlatformError, migrationsDir} from '../../src/core/index.js'
import {listMigrations, migrate, migrationStatus, newMigration, openDb, sha256, type Db} from '../../src/db/index.js'
import {createPgDatabase, describeEachDb, freshDb} from '../support/dbs.js'

function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'platform-mig-'))
  cpSync(migrationsDir(), dir, {recursive: true})
  return dir
}

const errorOf = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

describeEachDb('migrator', (kind) => {
  let db: Db
  let dir: string
  beforeEach(async () => {
    db = await freshDb(kind)
    dir = copyOfMigrations()
  })
  afterEach(async () => db.close())

  it('applies every file once, in order, with its SHA-256', async () => {
    const files = listMigrations(dir)
    const first = await migrate(db, {dir})
    expect(first.applied.map((m) => m.file)).toEqual(files.map((f) => f.file))
    const rows = await db.query<{version: string; checksum: string}>(
      'SELECT version, checksum FROM public.platform_migrations ORDER BY version',
    )
    expect(rows.rows).toEqual(files.map((f) => ({version: f.version, checksum: sha256(readFileSync(join(dir, f.file), 'utf8'))})))
    const second = await migrate(db, {dir})
    expect(second.applied).toEqual([])
    const status = await migrationStatus(db, dir)
    expect(status.pending).toEqual([])
    expect(status.applied.map((a) => a.version)).toEqual(files.map((f) => f.version))
  })

  it('dry run lists pending files and applies none', async () => {
    const result = await migrate(db, {dir, dryRun: true})
    expect(result.pending.length).toBe(listMigrations(dir).length)
    const t = await db.query<{t: string | null}>(`SELECT to_regclass('mcp_documents.agents')::text AS t`)
    expect(t.rows[0]!.t).toBeNull()
  })

  it('stops with an error naming an applied file whose checksum changed', async () => {
    await migrate(db, {dir})
    const file = listMigrations(dir)[0]!.file
    appendFileSync(join(dir, file), '\n-- edited\n')
    writeFileSync(join(dir, '0099_later.sql'), 'CREATE TABLE mcp_documents.later (id int);')
    const err = await errorOf(migrate(db, {dir}))
    expect(isPlatformError(err, 'MIGRATION_CHANGED')).toBe(true)
    expect((err as Error).message).toContain(file)
    // nothing after the changed file was applied
    const t = await db.query<{t: string | null}>(`SELECT to_regclass('mcp_documents.later')::text AS t`)
    expect(t.rows[0]!.t).toBeNull()
    const status = await migrationStatus(db, dir)
    expect(status.changed.map((c) => c.file)).toEqual([file])
  })

  it('rolls back a failing file whole and records nothing for it', async () => {
    await migrate(db, {dir})
    writeFileSync(join(dir, '0050_broken.sql'), 'CREATE TABLE mcp_documents.half (id int);\nSELECT 1/0;')
    const err = await errorOf(migrate(db, {dir}))
    expect(isPlatformError(err, 'MIGRATION_FAILED')).toBe(true)
    expect((err as Error).message).toContain('0050_broken.sql')
    const t = await db.query<{t: string | null}>(`SELECT to_regclass('mcp_documents.half')::text AS t`)
    expect(t.rows[0]!.t).toBeNull()
    expect((await migrationStatus(db, dir)).pending.map((p) => p.file)).toEqual(['0050_broken.sql'])
  })

  it('enforces the contract enums and JSONB shapes with CHECK constraints', async () => {
    await migrate(db, {dir})
    await expect(db.query(`INSERT INTO mcp_documents.agents (did, name, status) VALUES ('d1', 'a', 'sleeping')`)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    })
    await expect(db.query(`INSERT INTO mcp_documents.goals (goal_id, goal_text, priority) VALUES ('g', 't', 11)`)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    })
    await expect(
      db.query(`INSERT INTO mcp_documents.tasks (task_id, plan_id, name, status) VALUES ('t', 'p', 'n', 'done')`),
    ).rejects.toMatchObject({code: 'VALIDATION_FAILED'})
    await expect(
      db.query(`INSERT INTO mcp_documents.goals (goal_id, goal_text, success_criteria) VALUES ('g', 't', '{}')`),
    ).rejects.toMatchObject({code: 'VALIDATION_FAILED'})
    const r = await db.query<{status: string; configuration: unknown}>(
      `INSERT INTO mcp_documents.agents (did, name) VALUES ('d2', 'a') RETURNING status, configuration`,
    )
    expect(r.rows[0]).toEqual({status: 'created', configuration: {}})
  })

  it('round-trips JSONB objects and top-level arrays unchanged', async () => {
    await migrate(db, {dir})
    const criteria = ['a', {b: [1, 2, {c: null}]}, 3.5, true, 'quote " ; emoji 😀']
    const r = await db.query<{success_criteria: unknown}>(
      `INSERT INTO mcp_documents.goals (goal_id, goal_text, success_criteria) VALUES ('g1', 't', $1::jsonb) RETURNING success_criteria`,
      [JSON.stringify(criteria)],
    )
    expect(r.rows[0]!.success_criteria).toEqual(criteria)
  })

  it('waits for the lock and gives up with a clear error at the timeout', async () => {
    await db.session(async (conn) => {
      await conn.query('SELECT pg_advisory_lock(7100901)')
      if (kind === 'pg') {
        // another connection cannot take the lock while this session holds it
        const err = await errorOf(migrate(db, {dir, lockTimeoutMs: 400}))
        expect(isPlatformError(err, 'MIGRATION_LOCK_TIMEOUT')).toBe(true)
        expect((err as Error).message).toMatch(/another migrator/)
      }
      await conn.query('SELECT pg_advisory_unlock(7100901)')
    })
    expect((await migrate(db, {dir})).applied.length).toBe(listMigrations(dir).length)
  })

  it("applies a platform migration that shares its version with a project's applied one, keeping both records", async () => {
    // The platform of an earlier day: its files before the last, and a table keyed by version alone.
    const files = listMigrations(dir)
    const last = files.at(-1)!
    const earlier = mkdtempSync(join(tmpdir(), 'platform-mig-earlier-'))
    for (const f of files.slice(0, -1)) cpSync(join(dir, f.file), join(earlier, f.file))
    await db.exec(`CREATE TABLE public.platform_migrations (version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`)
    const project = mkdtempSync(join(tmpdir(), 'project-mig-'))
    const own = newMigration(project, 'add goal index', [earlier])
    expect(own.endsWith(`/${last.version}_add_goal_index.sql`)).toBe(true) // numbered after that day's platform
    writeFileSync(own, 'CREATE INDEX goals_text_idx ON mcp_documents.goals (goal_text);')
    await migrate(db, {dir: [earlier, project]})

    // This platform brings a file of the same number.
    expect((await migrationStatus(db, [dir, project])).pending.map((m) => m.file)).toEqual([last.file])
    expect((await migrate(db, {dir: [dir, project]})).applied.map((m) => m.file)).toEqual([last.file])
    const status = await migrationStatus(db, [dir, project])
    expect(status).toMatchObject({pending: [], changed: [], missing: []})
    expect(status.applied.filter((a) => a.version === last.version).map((a) => a.name)).toEqual([last.name, 'add_goal_index'].sort())
    expect((await migrate(db, {dir: [dir, project]})).applied).toEqual([])

    // The same version twice within one directory, or one file name in both, is still refused.
    writeFileSync(join(project, `${last.version}_other.sql`), 'SELECT 1;')
    expect(((await errorOf(migrate(db, {dir: [dir, project]}))) as Error).message).toMatch(/share version/)
    cpSync(join(dir, last.file), join(earlier, last.file))
    expect(() => listMigrations([dir, earlier])).toThrow(/share a name/)
  })

  it('keeps the record of a file renamed since it was applied', async () => {
    await migrate(db, {dir})
    const first = listMigrations(dir)[0]!
    renameSync(join(dir, first.file), join(dir, `${first.version}_renamed.sql`))
    expect(await migrationStatus(db, dir)).toMatchObject({pending: [], changed: [], missing: []})
    expect((await migrate(db, {dir})).applied).toEqual([])
  })

  it('db new writes the next numbered file', () => {
    const next = String(listMigrations(dir).length + 1).padStart(4, '0')
    const path = newMigration(dir, 'Add goal index!')
    const files = readdirSync(dir).sort()
    expect(files.at(-1)).toBe(path.split('/').at(-1))
    expect(path.endsWith(`/${next}_add_goal_index.sql`)).toBe(true)
    expect(listMigrations(dir).at(-1)!.name).toBe('add_goal_index')
  })
})

describeEachDb('concurrent migrators', (kind) => {
  if (kind === 'pg')
    it('two migrators started at once apply each file exactly once', async () => {
      const url = await createPgDatabase()
      const dir = copyOfMigrations()
      const a = await openDb({databaseUrl: url})
      const b = await openDb({databaseUrl: url})
      try {
        const [ra, rb] = await Promise.all([migrate(a, {dir}), migrate(b, {dir})])
        const files = listMigrations(dir).map((m) => m.file)
        expect([...ra.applied, ...rb.applied].map((m) => m.file).sort()).toEqual(files)
        const rows = await a.query<{n: number}>('SELECT count(*)::int AS n FROM public.platform_migrations')
        expect(rows.rows[0]!.n).toBe(files.length)
      } finally {
        await a.close()
        await b.close()
      }
    })
  else
    it('two migrators on one PGlite apply each file exactly once', async () => {
      const db = await freshDb(kind)
      const dir = copyOfMigrations()
      try {
        const [ra, rb] = await Promise.all([migrate(db, {dir}), migrate(db, {dir})])
        expect(ra.applied.length + rb.applied.length).toBe(listMigrations(dir).length)
      } finally {
        await db.close()
      }
    })
})
