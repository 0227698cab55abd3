import {existsSync, mkdtempSync, readFileSync} from 'node:fs'
import {connect, createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {exited, runCli, spawnCli, waitForOk} from '../support/cli.js'
import {createPgDatabase, pgUrl} from '../support/dbs.js'
import {freePort} from '../support/postgres.js'

// PGlite on disk, since its one-writer lock is what this file proves; the embedded PostgreSQL has its own file.
const PGLITE = {PLATFORM_DB_ENGINE: 'pglite'}

describe('platform serve data-layer (built bin/run.js, PGlite on disk)', () => {
  const children: Array<ReturnType<typeof spawnCli>> = []
  afterEach(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })

  async function serve(cwd: string, port: number) {
    const child = spawnCli(['serve', 'data-layer', '--port', String(port)], {cwd, env: PGLITE})
    children.push(child)
    await waitForOk(`http://127.0.0.1:${port}/health/ready`, 60_000).catch((err) => {
      throw new Error(`${err.message}\n${child.output()}`)
    })
    return child
  }

  it('keeps what it was given across a SIGTERM and a restart, and refuses a second writer', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'platform-e2e-'))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const first = await serve(cwd, port)
    const key = readFileSync(join(cwd, '.platform', 'internal.key'), 'utf8').trim()
    const post = async (path: string, body: object) => {
      const r = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: {'content-type': 'application/json', 'x-api-key': key, 'x-request-id': 'e2e-req-1'},
        body: JSON.stringify(body),
      })
      expect(r.status).toBe(201)
      expect(r.headers.get('x-request-id')).toBe('e2e-req-1')
      return (await r.json()) as Record<string, string>
    }
    const agent = await post('/agents/', {name: 'e2e agent'})
    const goal = await post('/goals/', {agent_id: agent.id, description: 'survive a restart', success_criteria: ['restarted']})
    const task = await post('/plans/tasks', {plan_id: 'plan-e2e', agent_id: agent.id, description: 'read me back'})

    // A second process on the same data directory is refused, naming the owner.
    const second = await runCli(['db', 'status'], {cwd, env: PGLITE})
    expect(second.code).toBe(3)
    expect(second.stderr).toContain(`in use by process ${first.pid}`)

    first.kill('SIGTERM')
    expect(await exited(first)).toBe(0)
    expect(first.output()).toMatch(/"reqId":"e2e-req-1"/)
    expect(first.output()).not.toContain(key)
    expect(existsSync(join(cwd, '.platform', 'data.lock'))).toBe(false)

    const again = await serve(cwd, port)
    const get = async (path: string) => {
      const r = await fetch(`${base}${path}`, {headers: {'x-api-key': key}})
      expect(r.status).toBe(200)
      return (await r.json()) as Record<string, unknown>
    }
    expect(await get(`/agents/${agent.id}`)).toMatchObject({name: 'e2e agent'})
    expect(await get(`/goals/${goal.goal_id}`)).toMatchObject({goal_text: 'survive a restart', success_criteria: ['restarted']})
    expect(await get(`/plans/tasks/${task.task_id}`)).toMatchObject({name: 'read me back', plan_id: 'plan-e2e'})
    again.kill('SIGINT')
    expect(await exited(again)).toBe(0)
  }, 120_000)

  it('reports a port in use with exit code 3', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'platform-e2e-'))
    const port = await freePort()
    const holder = await serve(cwd, port)
    const other = mkdtempSync(join(tmpdir(), 'platform-e2e-'))
    const r = await runCli(['serve', 'data-layer', '--port', String(port)], {cwd: other, env: PGLITE})
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`127.0.0.1:${port}: the port is in use`)
    holder.kill('SIGTERM')
    expect(await exited(holder)).toBe(0)
  }, 120_000)

  it.skipIf(!pgUrl())(
    'with --wait-for-db waits for a PostgreSQL that answers late, instead of exiting',
    async () => {
      // The test cluster, reached through a loopback port that starts forwarding only after 3 s (as a
      // Swarm task's database comes up after it): the URL is right all along, the database is not there yet.
      const real = new URL(await createPgDatabase())
      const port = await freePort()
      const late = new URL(real)
      late.port = String(port)
      const cwd = mkdtempSync(join(tmpdir(), 'platform-e2e-'))
      const l01Port = await freePort()
      const child = spawnCli(['serve', 'data-layer', '--port', String(l01Port), '--wait-for-db', '30s'], {
        cwd,
        env: {DATABASE_URL: late.toString()},
      })
      children.push(child)
      let proxy: Server | undefined
      const opened = setTimeout(() => {
        proxy = createServer((c) => {
          const up = connect(Number(real.port), real.hostname)
          c.pipe(up).pipe(c)
          c.on('error', () => up.destroy())
          up.on('error', () => c.destroy())
        }).listen(port, '127.0.0.1')
      }, 3000)
      try {
        await waitForOk(`http://127.0.0.1:${l01Port}/health/ready`, 40_000).catch((err) => {
          throw new Error(`${err.message}\n${child.output()}`)
        })
        expect(child.exitCode).toBeNull()
        expect(child.output()).toContain('applied migration')
      } finally {
        clearTimeout(opened)
        child.kill('SIGTERM')
        await exited(child)
        proxy?.close()
      }
    },
    60_000,
  )

  it.skipIf(!pgUrl())('without it, exits 3 at once when the database does not answer', async () => {
    const url = new URL(await createPgDatabase())
    url.port = String(await freePort())
    const r = await runCli(['serve', 'data-layer', '--port', String(await freePort())], {
      cwd: mkdtempSync(join(tmpdir(), 'platform-e2e-')),
      env: {DATABASE_URL: url.toString()},
      timeoutMs: 20_000,
    })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('is unavailable')
  })
})
