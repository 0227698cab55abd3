/**
 * `platform logs` on the embedded platform (built bin/run.js): readable lines, one service,
 * --json, --tail, --since and --follow, in a fresh directory started the usual CI way (both
 * keys from the environment, nothing under .platform/ yet).
 */
import {chmodSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {exited, runCli, spawnCli} from '../support/cli.js'
import {freePort} from '../support/postgres.js'

const KEY = '12345678901234567890123456789012'

describe('platform logs on the embedded platform (built bin/run.js)', () => {
  let cwd: string
  let env: NodeJS.ProcessEnv
  let gateway: string
  const cli = (...args: string[]) => runCli(args, {cwd, env, timeoutMs: 60_000})
  const get = (path: string) => fetch(`${gateway}${path}`, {headers: {'x-api-key': KEY}})

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'platform-logs-'))
    chmodSync(cwd, 0o755)
    const [l01, l09] = [await freePort(), await freePort()]
    env = {L01_PORT: String(l01), L09_PORT: String(l09), L01_API_KEY: 'internal-0123456789abcdef0123456789abcdef', PLATFORM_API_KEYS: KEY}
    gateway = `http://127.0.0.1:${l09}`
    const up = await runCli(['up', '--detach'], {cwd, env, timeoutMs: 120_000})
    expect(up.code, up.stderr).toBe(0) // no .platform/ before it: the log file's directory is made first
    expect((await get('/api/v1/agents/')).status).toBe(200)
    expect((await get('/api/v1/goals/')).status).toBe(200)
    await new Promise((r) => setTimeout(r, 600)) // the log is written a few times a second
  }, 180_000)
  afterAll(async () => {
    await cli('down')
  })

  it('prints one readable line per record, for both services', async () => {
    const r = await cli('logs')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^l09 \| \d\d:\d\d:\d\d GET \/api\/v1\/agents\/ 200 [\d.]+ms$/m)
    expect(r.stdout).toMatch(/^l01 \| \d\d:\d\d:\d\d GET \/goals\/ 200 [\d.]+ms$/m)
    expect(r.stdout).not.toContain('{"level"')
  })

  it('keeps one service by any of its names, and --json gives the raw records', async () => {
    for (const name of ['l09', 'gateway', 'l09-api-gateway']) {
      const lines = (await cli('logs', name)).stdout.trim().split('\n')
      expect(lines.length).toBeGreaterThan(0)
      expect(
        lines.every((l) => l.startsWith('l09 |')),
        name,
      ).toBe(true)
    }
    const json = (await cli('logs', 'data-layer', '--json', '--tail', '1')).stdout.trim().split('\n')
    expect(json).toHaveLength(1)
    expect(JSON.parse(json[0]!)).toMatchObject({name: 'l01-data-layer'})
    const bad = await cli('logs', 'nonsense')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('l01, data-layer')
  })

  it('--tail and --since cut the log', async () => {
    expect((await cli('logs', 'l09', '--tail', '2')).stdout.trim().split('\n')).toHaveLength(2)
    await new Promise((r) => setTimeout(r, 1500))
    const recent = await cli('logs', '--since', '1s')
    expect(recent.code).toBe(0)
    expect(recent.stdout).not.toContain('GET /api/v1/agents/') // older than a second
    expect((await cli('logs', '--since', '10m')).stdout).toContain('GET /api/v1/agents/')
  })

  it('--follow prints new lines as they come, until Ctrl-C', async () => {
    const follow = spawnCli(['logs', 'l09', '--follow'], {cwd, env})
    try {
      await new Promise((r) => setTimeout(r, 800))
      expect((await get('/api/v1/tasks/?plan_id=followed')).status).toBe(200)
      const end = Date.now() + 5000
      while (!follow.output().includes('GET /api/v1/tasks/ 200') && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
      expect(follow.output()).toContain('GET /api/v1/tasks/ 200')
      follow.kill('SIGINT')
      expect(await exited(follow)).toBe(0)
    } finally {
      if (follow.exitCode === null) follow.kill('SIGKILL')
    }
  }, 30_000)
})
