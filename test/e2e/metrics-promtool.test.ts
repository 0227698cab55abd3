import {spawnSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {spawnCli, waitForOk} from '../support/cli.js'
import {freePort} from '../support/postgres.js'
import {missingService} from '../support/tiers.js'

const promtool = spawnSync('promtool', ['--version']).status === 0
if (!promtool)
  missingService('promtool is not installed', "Install Debian's prometheus package, or run `npm test` as root (it installs it).")

/** What Prometheus' own checker says about a scrape: its exit status and its complaints. */
function check(text: string): {status: number | null; output: string} {
  const r = spawnSync('promtool', ['check', 'metrics'], {input: text, encoding: 'utf8'})
  return {status: r.status, output: `${r.stdout}${r.stderr}`}
}

describe.skipIf(!promtool)('/metrics of both services (built bin/run.js) passes `promtool check metrics`', () => {
  const children: Array<ReturnType<typeof spawnCli>> = []
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  })

  it('the data layer and the gateway, after real traffic', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'platform-metrics-'))
    const [l01, l09] = [await freePort(), await freePort()]
    const env = {L01_API_KEY: 'metrics-internal-0123456789abcdef', PLATFORM_API_KEYS: 'metrics-api-key-0123456789abcdef'}
    children.push(spawnCli(['serve', 'data-layer', '--port', String(l01)], {cwd, env}))
    children.push(spawnCli(['serve', 'gateway', '--port', String(l09), '--l01-url', `http://127.0.0.1:${l01}`], {cwd, env}))
    const gateway = `http://127.0.0.1:${l09}`
    await waitForOk(`${gateway}/health/ready`, 60_000).catch((err) => {
      throw new Error(`${err.message}\n${children.map((c) => c.output()).join('\n')}`)
    })
    // Requests of every kind, so the counters and histograms have series, not just their headers.
    const headers = {'x-api-key': env.PLATFORM_API_KEYS, 'content-type': 'application/json'}
    expect((await fetch(`${gateway}/api/v1/agents/`, {method: 'POST', headers, body: JSON.stringify({name: 'scraped'})})).status).toBe(201)
    expect((await fetch(`${gateway}/api/v1/agents/`, {headers})).status).toBe(200)
    expect((await fetch(`${gateway}/api/v1/agents/not-a-uuid`, {headers})).status).toBe(400)
    expect((await fetch(`${gateway}/api/v1/agents/`)).status).toBe(401)

    for (const url of [`http://127.0.0.1:${l01}`, gateway]) {
      const text = await (await fetch(`${url}/metrics`)).text()
      expect(text).toMatch(/^http_requests_total\{method="GET",route="[^"]+",status="200"\} [1-9]/m)
      expect(text).toContain('http_request_duration_seconds_bucket')
      expect(text).toContain('process_cpu_seconds_total')
      expect(check(text), url).toEqual({status: 0, output: ''})
    }
  }, 90_000)

  it('the checker is strict enough to refuse a gauge named *_total (the default gauges prom-client used to serve)', () => {
    const bad =
      '# HELP nodejs_active_handles_total Total number of active handles.\n# TYPE nodejs_active_handles_total ' +
      'gauge\nnodejs_active_handles_total 3\n'
    const r = check(bad)
    expect(r.status).not.toBe(0)
    expect(r.output).toContain('non-counter metrics should not have "_total" suffix')
  })
})
