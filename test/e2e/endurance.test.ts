/**
 * The endurance profile (100 users, 10 spawned per s) for 60 s against the platform as a user
 * starts it (`platform up --detach`, the built CLI on its embedded PostgreSQL), driven by
 * `platform test load endurance`. It asserts errors, and the young generation sized up front that
 * keeps memory flat, never time: the 30-minute run with its RSS figures is bench/endurance.ts.
 */
import {chmodSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Summary} from '../../src/loadtest/index.js'
import {runCli} from '../support/cli.js'
import {freePort} from '../support/postgres.js'

describe('the endurance profile for 60 s against `platform up` (built bin/run.js)', () => {
  it('answers every request of 100 users without an error', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'platform-endurance-'))
    chmodSync(cwd, 0o755)
    const l09 = await freePort()
    const env = {L01_PORT: String(await freePort()), L09_PORT: String(l09)}
    const cli = (args: string[], timeoutMs: number) => runCli(args, {cwd, env, timeoutMs})
    const up = await cli(['up', '--detach', '--json'], 120_000)
    expect(up.code, up.stderr + up.stdout).toBe(0)
    try {
      const report = join(cwd, 'report')
      const target = `http://127.0.0.1:${l09}`
      const run = await cli(['test', 'load', 'endurance', '--duration', '60s', '--target', target, '--report', report, '--json'], 180_000)
      // Exit 1 is a failed threshold, which may be latency; only the errors are judged here.
      expect([0, 1], run.stderr).toContain(run.code)
      const s = JSON.parse(run.stdout) as Summary
      expect(s.users).toBe(100)
      expect(s.total.count).toBeGreaterThan(500)
      expect(s.failures).toEqual([])
      expect(s.total.failures).toBe(0)
      expect(s.endpoints.every((e) => e.failures === 0)).toBe(true)
      // Each service's young generation has kept its full semi-space (16 MiB) under this light load;
      // V8 left alone shrinks it (to 4 MiB here) and grows it back over tens of minutes, which the
      // 30-minute run (bench/endurance.ts) reads as memory growth.
      for (const port of [env.L01_PORT, String(l09)]) {
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        const young = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics)?.[1]
        expect(Number(young) / 2 ** 20, `port ${port}`).toBeGreaterThanOrEqual(16)
      }
    } finally {
      expect((await cli(['down'], 60_000)).code).toBe(0)
    }
  }, 300_000)
})
