/**
 * The embedded PostgreSQL as a user meets it, through the built bin/run.js: a crash that
 * leaves the postmaster running, `db status` beside a running platform, two projects at
 * once, and the PGlite engine (chosen, kept for existing data, and the fallback where the
 * binaries cannot run).
 */
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {pidAlive, pollUntil} from '../../src/core/index.js'
import {runCli} from '../support/cli.js'
import {freePort} from '../support/postgres.js'

async function project(mode = 0o755) {
  const cwd = mkdtempSync(join(tmpdir(), 'platform-epg-'))
  chmodSync(cwd, mode)
  const l01 = await freePort()
  const l09 = await freePort()
  const env = {L01_PORT: String(l01), L09_PORT: String(l09)}
  const cli = (...args: string[]) => runCli(args, {cwd, env, timeoutMs: 120_000})
  const json = async (...args: string[]) => {
    const r = await cli(...args, '--json')
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout)
  }
  const key = () => readFileSync(join(cwd, '.platform', 'api.key'), 'utf8').trim()
  const createAgent = async (name: string) => {
    const r = await fetch(`http://127.0.0.1:${l09}/api/v1/agents/`, {
      method: 'POST',
      headers: {'x-api-key': key(), 'content-type': 'application/json'},
      body: JSON.stringify({name}),
    })
    expect(r.status).toBe(201)
    return ((await r.json()) as {id: string}).id
  }
  const readAgent = (id: string) => fetch(`http://127.0.0.1:${l09}/api/v1/agents/${id}`, {headers: {'x-api-key': key()}})
  return {cwd, env, cli, json, createAgent, readAgent, cluster: join(cwd, '.platform', 'postgres')}
}

const postmasterPid = (cluster: string) => Number(readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n')[0])

describe('the embedded PostgreSQL (built bin/run.js)', () => {
  it('recovers after the platform was killed: the postmaster it left is adopted, then stopped by down', async () => {
    const p = await project()
    const first = await p.json('up', '--detach')
    const id = await p.createAgent('survives a crash')
    const postmaster = postmasterPid(p.cluster)
    process.kill(first.pid, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 200))
    expect(pidAlive(postmaster)).toBe(true) // the crash left it running

    const second = await p.json('up', '--detach')
    expect(second.pid).not.toBe(first.pid)
    expect(postmasterPid(p.cluster)).toBe(postmaster) // found through postmaster.pid and reused
    expect((await p.readAgent(id)).status).toBe(200)

    process.kill(second.pid, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 200))
    const down = await p.json('down')
    expect(down).toMatchObject({stopped: null, orphanDatabase: true})
    expect(pidAlive(postmaster)).toBe(false)
    expect(existsSync(join(p.cluster, 'postmaster.pid'))).toBe(false)
  }, 180_000)

  it('survives its postmaster killed under load: 503 within a second, started again, every acknowledged write readable', async () => {
    const p = await project()
    await p.json('up', '--detach')
    try {
      const acknowledged: string[] = []
      const unavailable: number[] = []
      let killedAt = 0
      let recoveredAt = 0
      const deadline = Date.now() + 20_000
      const writer = async () => {
        while (Date.now() < deadline && !(recoveredAt && Date.now() > recoveredAt + 1000)) {
          const r = await fetch(`http://127.0.0.1:${p.env.L09_PORT}/api/v1/agents/`, {
            method: 'POST',
            headers: {'x-api-key': readFileSync(join(p.cwd, '.platform', 'api.key'), 'utf8').trim(), 'content-type': 'application/json'},
            body: JSON.stringify({name: 'under fire'}),
          }).catch(() => undefined)
          if (r?.status === 201) {
            acknowledged.push(((await r.json()) as {id: string}).id)
            if (killedAt && !recoveredAt && unavailable.length) recoveredAt = Date.now()
          } else if (r?.status === 503) {
            expect(((await r.json()) as {error: string}).error).toMatch(/^(DATABASE_UNAVAILABLE|UPSTREAM_UNAVAILABLE)$/)
            if (killedAt) unavailable.push(Date.now() - killedAt)
          } else if (r) {
            throw new Error(`unexpected ${r.status}: ${await r.text()}`)
          }
        }
      }
      const writers = Array.from({length: 4}, writer)
      await new Promise((r) => setTimeout(r, 1500))
      killedAt = Date.now()
      process.kill(postmasterPid(p.cluster), 'SIGKILL')
      await Promise.all(writers)
      expect(unavailable.length).toBeGreaterThan(0)
      expect(Math.min(...unavailable)).toBeLessThan(1000) // refused promptly, never hanging
      expect(recoveredAt, 'writes succeed again').toBeGreaterThan(killedAt)
      expect(recoveredAt - killedAt).toBeLessThan(10_000) // the supervisor starts it again within its second, then recovery
      // Said once the restart has finished, which can come after the first write it lets through.
      const said = () =>
        readFileSync(join(p.cwd, '.platform', 'platform.log'), 'utf8').includes('the embedded PostgreSQL stopped; started it again')
      expect(await pollUntil(() => said() || undefined, {timeoutMs: 10_000, everyMs: 100})).toBe(true)
      for (const id of acknowledged) expect((await p.readAgent(id)).status, id).toBe(200)
    } finally {
      await p.cli('down')
    }
  }, 120_000)

  it('db status and db migrate use the running cluster while up runs, and leave it running', async () => {
    const p = await project()
    const empty = await p.cli('db', 'status')
    expect(empty.code).toBe(0)
    expect(empty.stdout).toContain('no database yet')
    expect(existsSync(join(p.cwd, '.platform'))).toBe(false) // read-only: nothing created

    const up = await p.json('up', '--detach')
    const postmaster = postmasterPid(p.cluster)
    const status = await p.json('db', 'status')
    expect(status.database).toContain(`on port ${up.engine.port}`)
    expect(status.applied.length).toBeGreaterThanOrEqual(2)
    expect(status.pending).toEqual([])
    expect((await p.json('db', 'migrate')).applied).toEqual([])
    expect(pidAlive(postmaster)).toBe(true)
    expect((await p.readAgent('00000000-0000-4000-8000-000000000000')).status).toBe(404) // L01 still has its database
    await p.json('down')
    expect(pidAlive(postmaster)).toBe(false)

    // With nothing running, db migrate starts the cluster for itself and stops it again.
    expect((await p.json('db', 'migrate')).applied).toEqual([])
    expect(existsSync(join(p.cluster, 'postmaster.pid'))).toBe(false)
  }, 180_000)

  it('two projects run at once, each on a cluster and a port of its own (one in a directory only its owner may enter)', async () => {
    const [a, b] = await Promise.all([project(), project(0o700)])
    const [upA, upB] = await Promise.all([a.json('up', '--detach'), b.json('up', '--detach')])
    try {
      expect(upA.engine.port).not.toBe(upB.engine.port)
      expect(upA.engine.dataDir).toBe(a.cluster)
      // As root PostgreSQL runs as the postgres user, who cannot enter b: its cluster lives outside, named by b's path.
      expect(upB.engine.dataDir).toMatch(
        process.getuid?.() === 0 ? /^\/var\/lib\/platform\/clusters\/[0-9a-f]{16}$/ : /\.platform\/postgres$/,
      )
      const id = await a.createAgent('only in a')
      expect((await a.readAgent(id)).status).toBe(200)
      expect((await b.readAgent(id)).status).toBe(404)
    } finally {
      await Promise.all([a.cli('down'), b.cli('down')])
      if (upB.engine.dataDir.startsWith('/var/lib/platform/')) rmSync(upB.engine.dataDir, {recursive: true, force: true})
    }
  }, 180_000)

  it('PGlite: chosen with --db pglite, kept for a project that has PGlite data, and the fallback without binaries', async () => {
    const p = await project()
    const chosen = await p.json('up', '--detach', '--db', 'pglite')
    expect(chosen.engine).toMatchObject({engine: 'pglite', dataDir: join(p.cwd, '.platform', 'data')})
    const id = await p.createAgent('in pglite')
    await p.json('down')
    expect(existsSync(p.cluster)).toBe(false)

    // The same project without --db keeps its PGlite data and says so.
    const kept = await p.cli('up', '--detach', '--json')
    expect(kept.code, kept.stderr).toBe(0)
    expect(JSON.parse(kept.stdout).engine.engine).toBe('pglite')
    expect((await p.readAgent(id)).status).toBe(200)
    expect(readFileSync(join(p.cwd, '.platform', 'platform.log'), 'utf8')).toContain('using the PGlite data in .platform/data')
    await p.json('down')

    // Switching: the data carried over into the embedded PostgreSQL, ids and all.
    const copied = await p.json('db', 'copy', '--from', 'pglite', '--to', 'postgres')
    expect(copied.rows).toEqual({agents: 1, goals: 0, plans: 0, tasks: 0})
    expect((await p.json('up', '--detach', '--db', 'postgres')).engine.engine).toBe('postgres')
    expect((await p.readAgent(id)).status).toBe(200)
    expect(await p.createAgent('after the copy')).toBeTruthy() // the identity continues after the copied rows
    await p.json('down')
    expect((await p.cli('db', 'copy', '--from', 'pglite', '--to', 'postgres')).code).toBe(1) // the target is no longer empty

    const fallback = await project()
    const r = await runCli(['up', '--detach', '--json'], {
      cwd: fallback.cwd,
      env: {...fallback.env, PLATFORM_PG_BIN: join(fallback.cwd, 'no-binaries-here')},
      timeoutMs: 120_000,
    })
    try {
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).engine.engine).toBe('pglite')
      expect(readFileSync(join(fallback.cwd, '.platform', 'platform.log'), 'utf8')).toContain('the embedded PostgreSQL cannot run here')
    } finally {
      await fallback.cli('down')
    }
  }, 240_000)
})
