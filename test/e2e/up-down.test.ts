import {chmodSync, existsSync, mkdtempSync, readFileSync, statSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {pidAlive, portFree} from '../../src/core/index.js'
import {exited, runCli, spawnCli, waitForOk} from '../support/cli.js'
import {freePort} from '../support/postgres.js'

async function project() {
  const cwd = mkdtempSync(join(tmpdir(), 'platform-up-'))
  chmodSync(cwd, 0o755) // as a project directory is; a 0700 one is the case embedded-postgres.test.ts covers
  const l01 = await freePort()
  const l09 = await freePort()
  return {cwd, env: {L01_PORT: String(l01), L09_PORT: String(l09)}, l01, l09}
}

describe('platform up / status / down (built bin/run.js, the embedded PostgreSQL)', () => {
  it('cycles twice with --detach, keeping the data and the generated key', async () => {
    const p = await project()
    const cli = (...args: string[]) => runCli(args, {cwd: p.cwd, env: p.env, timeoutMs: 120_000})
    const gw = `http://127.0.0.1:${p.l09}`

    const idle = await cli('status', '--json')
    expect(idle.code).toBe(3) // nothing runs; the document is printed all the same
    expect(JSON.parse(idle.stdout)).toMatchObject({mode: 'embedded', running: false})
    expect((await cli('down')).code).toBe(0)

    const up = await cli('up', '--detach', '--json')
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const started = JSON.parse(up.stdout)
    expect(started.services.map((s: {name: string; health: string}) => [s.name, s.health])).toEqual([
      ['l01-data-layer', 'healthy'],
      ['l09-api-gateway', 'healthy'],
    ])
    const keyFile = join(p.cwd, '.platform', 'api.key')
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    const key = readFileSync(keyFile, 'utf8').trim()
    expect(key.length).toBeGreaterThanOrEqual(32)

    const created = await fetch(`${gw}/api/v1/agents/`, {
      method: 'POST',
      headers: {'x-api-key': key, 'content-type': 'application/json'},
      body: JSON.stringify({name: 'persists'}),
    })
    expect(created.status).toBe(201)
    const agent = (await created.json()) as {id: string}

    const second = await cli('up', '--detach')
    expect(second.code).toBe(0)
    expect(second.stdout).toContain('Already running')

    const running = await cli('status', '--json')
    expect(running.code).toBe(0) // every service is healthy
    const status = JSON.parse(running.stdout)
    const cluster = join(p.cwd, '.platform', 'postgres')
    expect(status).toMatchObject({mode: 'embedded', running: true, pid: started.pid, engine: {engine: 'postgres', dataDir: cluster}})
    expect(status.engine.version).toMatch(/^\d+\.\d+/)
    expect(readFileSync(join(cluster, 'postmaster.pid'), 'utf8').split('\n')[3]).toBe(String(status.engine.port))
    expect([5432, p.l01, p.l09]).not.toContain(status.engine.port)
    expect(status.services.every((s: {health: string}) => s.health === 'healthy')).toBe(true)
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0)

    const down = await cli('down', '--json')
    expect(down.code).toBe(0)
    expect(JSON.parse(down.stdout)).toEqual({stopped: started.pid, forced: false, orphanDatabase: false})
    expect(existsSync(join(p.cwd, '.platform', 'platform.pid'))).toBe(false)
    expect(existsSync(join(cluster, 'postmaster.pid'))).toBe(false) // stopped cleanly with the platform
    expect(JSON.parse((await cli('status', '--json')).stdout).running).toBe(false)

    const again = await cli('up', '--detach', '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key)
    const read = await fetch(`${gw}/api/v1/agents/${agent.id}`, {headers: {'x-api-key': key}})
    expect(read.status).toBe(200)
    expect(((await read.json()) as {name: string}).name).toBe('persists')
    expect((await cli('down')).code).toBe(0)
  }, 180_000)

  it('runs in the foreground until Ctrl-C and then cleans up', async () => {
    const p = await project()
    const child = spawnCli(['up', '--log-level', 'warn'], {cwd: p.cwd, env: p.env})
    try {
      await waitForOk(`http://127.0.0.1:${p.l09}/health/ready`, 90_000)
      expect(existsSync(join(p.cwd, '.platform', 'platform.pid'))).toBe(true)
      child.kill('SIGINT')
      expect(await exited(child)).toBe(0)
      expect(child.output()).toContain('Platform is up')
      expect(existsSync(join(p.cwd, '.platform', 'platform.pid'))).toBe(false)
      expect(existsSync(join(p.cwd, '.platform', 'postgres', 'postmaster.pid'))).toBe(false)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 120_000)

  it('off a terminal, the foreground prints every request record on stdout as whole JSON lines, one per request and service', async () => {
    const p = await project()
    const child = spawnCli(['up'], {cwd: p.cwd, env: p.env})
    let stdout = ''
    child.stdout!.on('data', (d) => (stdout += d))
    try {
      await waitForOk(`http://127.0.0.1:${p.l09}/health/ready`, 90_000)
      const key = readFileSync(join(p.cwd, '.platform', 'api.key'), 'utf8').trim()
      const ids = Array.from({length: 30}, (_, i) => `0000000${i}-0000-4000-8000-000000000000`.slice(-36))
      await Promise.all(
        ids.map((id) => fetch(`http://127.0.0.1:${p.l09}/api/v1/agents/${id}`, {headers: {'x-api-key': key, 'x-request-id': id}})),
      )
      const seen = () => stdout.split('\n').filter((l) => ids.some((id) => l.includes(id)))
      const deadline = Date.now() + 5000
      while (seen().length < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      const records = seen().map((l) => JSON.parse(l) as {name: string; reqId: string; status: number})
      expect(records).toHaveLength(60) // L09's and L01's line for each request, none cut in two
      for (const id of ids)
        expect(
          records
            .filter((r) => r.reqId === id)
            .map((r) => r.name)
            .sort(),
        ).toEqual(['l01-data-layer', 'l09-api-gateway'])
      child.kill('SIGINT')
      expect(await exited(child)).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 120_000)

  it('--topology processes: services that outlive a killed supervisor are found by status and stopped by down', async () => {
    const p = await project()
    const cli = (...args: string[]) => runCli(args, {cwd: p.cwd, env: p.env, timeoutMs: 120_000})
    const up = await cli('up', '--detach', '--topology', 'processes', '--json')
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const supervisor = JSON.parse(up.stdout).pid as number
    const state = JSON.parse(readFileSync(join(p.cwd, '.platform', 'platform.json'), 'utf8')) as {services: Array<{pid: number}>}
    const children = state.services.map((s) => s.pid)
    expect(children).toHaveLength(2)
    process.kill(supervisor, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 300))
    expect(children.every((pid) => pidAlive(pid))).toBe(true) // still serving

    const status = await cli('status', '--json')
    expect(status.code).toBe(1)
    const doc = JSON.parse(status.stdout)
    expect(doc.running).toBe(true)
    expect(doc.services.map((s: {state: string}) => s.state)).toEqual(['orphaned', 'orphaned'])
    expect(doc.services[0].detail).toContain('platform down')

    const down = await cli('down', '--json')
    expect(down.code, down.stderr).toBe(0)
    expect(children.some((pid) => pidAlive(pid))).toBe(false)
    expect(await portFree(p.l09)).toBe(true)
    expect(JSON.parse((await cli('status', '--json')).stdout).running).toBe(false)
  }, 120_000)

  it('names what holds a port that is in use, exit 3', async () => {
    const p = await project()
    const holder = createServer()
    await new Promise<void>((r) => holder.listen(p.l09, '127.0.0.1', r))
    try {
      const r = await runCli(['up', '--detach'], {cwd: p.cwd, env: p.env})
      expect(r.code).toBe(3)
      expect(r.stderr).toContain(`127.0.0.1:${p.l09}: the port is in use by pid ${process.pid}`)
    } finally {
      holder.close()
    }
  }, 60_000)
})
