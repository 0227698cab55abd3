import {chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {migrationsDir} from '../../src/core/index.js'
import {runCli} from '../support/cli.js'

/** A project directory as people have them (0755): its embedded cluster lives inside it. */
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'platform-cli-'))
  chmodSync(dir, 0o755)
  return dir
}

describe('the platform CLI (built bin/run.js)', () => {
  it('--help lists every topic with a summary', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const topic of ['db', 'serve']) expect(r.stdout).toMatch(new RegExp(`^\\s+${topic}\\s+\\S.+$`, 'm'))
  })

  it('every command has a summary and examples', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')) as {
      commands: Record<string, {summary?: string; examples?: string[]}>
    }
    const ids = Object.keys(manifest.commands)
    expect(ids).toEqual(expect.arrayContaining(['db:migrate', 'db:status', 'db:new', 'db:reset', 'serve:data-layer']))
    for (const id of ids) {
      expect(manifest.commands[id]!.summary, id).toBeTruthy()
      expect(manifest.commands[id]!.examples?.length, id).toBeGreaterThan(0)
    }
  })

  it.each([['--help'], ['--version'], ['db', '--help']])('%s loads no server, database or Docker code', async (...args) => {
    const trace = join(tmp(), 'imports.txt')
    writeFileSync(trace, '')
    const r = await runCli(args, {
      nodeArgs: ['--import', new URL('../support/trace-imports.mjs', import.meta.url).pathname],
      env: {TRACE_IMPORTS: trace},
    })
    expect(r.code).toBe(0)
    const loaded = readFileSync(trace, 'utf8')
    expect(loaded).toContain('/bin/run.js') // the trace works
    expect(loaded).not.toMatch(/node_modules\/(fastify|@electric-sql\/pglite|pg|dockerode)\//)
  })

  it('--version prints what oclif would, without loading it', async () => {
    const r = await runCli(['--version'])
    const {Config} = await import('@oclif/core')
    const config = await Config.load(new URL('../../', import.meta.url).pathname)
    expect(r.stdout.trim()).toBe(config.userAgent)
  })

  it('db status, migrate, reset: a whole cycle on the embedded PostgreSQL, started and stopped by each command', async () => {
    const cwd = tmp()
    const before = await runCli(['db', 'status', '--json'], {cwd})
    expect(before.code).toBe(0)
    const s0 = JSON.parse(before.stdout)
    expect(s0.applied).toEqual([])
    expect(s0.pending.length).toBeGreaterThanOrEqual(2)

    const dry = await runCli(['db', 'migrate', '--dry-run', '--json'], {cwd})
    expect(JSON.parse(dry.stdout)).toMatchObject({dryRun: true, applied: [], pending: s0.pending})

    const m = await runCli(['db', 'migrate', '--json'], {cwd})
    expect(m.code).toBe(0)
    expect(JSON.parse(m.stdout).applied).toEqual(s0.pending)

    const after = JSON.parse((await runCli(['db', 'status', '--json'], {cwd})).stdout)
    expect(after.pending).toEqual([])
    expect(after.applied.map((a: {version: string}) => a.version)).toEqual(s0.pending.map((f: string) => f.slice(0, 4)))

    const refused = await runCli(['db', 'reset'], {cwd})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--force')
    const reset = await runCli(['db', 'reset', '--force', '--json'], {cwd})
    expect(reset.code).toBe(0)
    expect(JSON.parse(reset.stdout).applied).toEqual(s0.pending)
    expect(existsSync(join(cwd, '.platform', 'postgres', 'PG_VERSION'))).toBe(true)
    expect(existsSync(join(cwd, '.platform', 'postgres', 'postmaster.pid'))).toBe(false) // each stopped what it started
  }, 120_000)

  it("db new writes into the project, never the package; migrate applies the platform's migrations, then the project's", async () => {
    const cwd = tmp()
    const own = readdirSync(migrationsDir())
    const next = String(Math.max(...own.map((f) => Number(f.slice(0, 4)))) + 1).padStart(4, '0')
    const made = await runCli(['db', 'new', 'add agent index', '--json'], {cwd})
    expect(made.code, made.stderr).toBe(0)
    const file = join(cwd, 'platform', 'migrations', `${next}_add_agent_index.sql`)
    expect(JSON.parse(made.stdout).path).toBe(file)
    expect(readdirSync(migrationsDir())).toEqual(own)
    writeFileSync(file, 'CREATE INDEX agents_name_idx ON mcp_documents.agents (name);\n')
    const m = JSON.parse((await runCli(['db', 'migrate', '--json'], {cwd, env: {PLATFORM_DB_ENGINE: 'pglite'}})).stdout)
    expect(m.applied.at(-1)).toBe(`${next}_add_agent_index.sql`)
    expect(m.applied).toHaveLength(own.length + 1)
  }, 120_000)

  it('a bad platform.yaml is reported with file, line and key, exit 2', async () => {
    const cwd = tmp()
    writeFileSync(join(cwd, 'platform.yaml'), 'mode: embedded\ndata_layer:\n  port: lots\n')
    const r = await runCli(['db', 'status'], {cwd})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('platform.yaml:3: data_layer.port must be a port number')
    writeFileSync(join(cwd, 'platform.yaml'), 'mode: embeded\n')
    expect((await runCli(['db', 'status', '--json'], {cwd})).stdout).toContain('"error": "CONFIG_INVALID"')
  })

  it.each([
    ['postgresql://nobody:s3cret@127.0.0.1:1/none', 3, 'the database at 127.0.0.1:1 is unavailable: connection refused'],
    [
      'postgresql://nobody:s3cret@no-such-host.invalid:5544/none',
      3,
      'the database at no-such-host.invalid:5544 is unavailable: no such host',
    ],
    ['not a url s3cret', 2, 'DATABASE_URL is not a PostgreSQL URL'],
  ])('DATABASE_URL=%s: its own cause, exit %i, no password, no stack trace', async (url, code, message) => {
    const r = await runCli(['db', 'status'], {cwd: tmp(), env: {DATABASE_URL: url}})
    expect(r.code).toBe(code)
    expect(r.stderr).toContain(message)
    expect(r.stderr).not.toContain('s3cret')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('usage errors exit 2', async () => {
    const r = await runCli(['db', 'migrate', '--no-such-flag'])
    expect(r.code).toBe(2)
    const json = await runCli(['db', 'migrate', '--no-such-flag', '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toEqual({
      error: 'USAGE',
      message: 'Nonexistent flag: --no-such-flag',
      suggestion: 'see `platform db migrate --help`',
    })
  })
})
