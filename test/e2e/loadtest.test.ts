/**
 * `platform test smoke|load` through the built CLI: against the embedded platform it starts
 * itself, and against a fake target (test/support/fake-target.ts) that is broken, slow or
 * stalled on demand. Run `npm run build` first.
 */
import {chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {execFile} from 'node:child_process'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {pidAlive} from '../../src/core/index.js'
import {clusterDir} from '../../src/db/index.js'
import {ENDPOINTS} from '../../src/loadtest/scenarios/contract.js'
import type {Summary} from '../../src/loadtest/types.js'
import {BIN, exited, runCli, spawnCli} from '../support/cli.js'
import {createPgDatabase, pgUrl} from '../support/dbs.js'
import {startFakeTarget, type FakeTarget} from '../support/fake-target.js'
import {waitFor} from '../support/wait.js'
import {freePort} from '../support/postgres.js'

type Result = Summary & {reportDir: string; junit?: string}
const tmp = () => mkdtempSync(join(tmpdir(), 'platform-loadtest-e2e-'))
const PATCH_AGENT = 'PATCH /api/v1/agents/:id'
const LIST_GOALS = 'GET /api/v1/goals/'
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

/** Runs `platform test ARGS --json`; the whole of stdout must be one JSON document. */
async function loadTest(args: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}) {
  const cwd = opts.cwd ?? tmp()
  const r = await runCli(['test', ...args, '--json'], {cwd, env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000})
  let s: Result
  try {
    s = JSON.parse(r.stdout) as Result
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  }
  return {code: r.code, stderr: r.stderr, s, cwd}
}

/** `test load custom` against a fake target. */
const custom = (t: FakeTarget, ...more: string[]) => ['load', 'custom', '--target', t.url, '--api-key', t.apiKey, ...more]
/** What went wrong in a run, for assertion messages. */
const explain = (s: Summary, stderr = '') =>
  `${s.verdict.sentence}; validity ${JSON.stringify(s.validity)}; failures ${JSON.stringify(s.failures.slice(0, 3))}\n${stderr}`
const failed = (s: Summary) =>
  s.thresholds
    .filter((t) => !t.passed)
    .map((t) => `${t.metric} of ${t.scope}`)
    .sort()

async function withTarget<T>(fn: (t: FakeTarget) => Promise<T>): Promise<T> {
  const t = await startFakeTarget()
  try {
    return await fn(t)
  } finally {
    await t.close()
  }
}

describe('against the embedded platform (started and stopped by the CLI)', () => {
  it('smoke for 10 s: 0 failures, PASSED, reports written, nothing left running', async () => {
    const {code, s, cwd, stderr} = await loadTest(['smoke', '--duration', '10s'], {env: {DATABASE_URL: undefined}, timeoutMs: 90_000})
    expect(code, explain(s, stderr)).toBe(0)
    expect(s).toMatchObject({profile: 'smoke', users: 10, spawnRate: 5, model: 'closed'})
    expect(s.total.count).toBeGreaterThan(10)
    expect(s.total.failures).toBe(0)
    expect(s.failures).toEqual([])
    expect(s.verdict).toMatchObject({status: 'PASSED', exitCode: 0, aborted: false})
    expect(s.verdict.sentence).toMatch(/^PASSED: /)
    expect(s.reportDir.startsWith(join(cwd, 'reports', 'smoke-'))).toBe(true)
    for (const f of ['summary.json', 'report.html', 'junit.xml', 'run.log']) expect(existsSync(join(s.reportDir, f)), f).toBe(true)
    expect(JSON.parse(readFileSync(join(s.reportDir, 'summary.json'), 'utf8')).verdict).toEqual(s.verdict)
    expect(readFileSync(join(s.reportDir, 'junit.xml'), 'utf8')).not.toContain('<failure')
    expect(readFileSync(join(s.reportDir, 'run.log'), 'utf8')).toContain(s.verdict.sentence)
    // The platform the run started is gone: no run state here, and its gateway no longer answers.
    expect(existsSync(join(cwd, '.platform', 'platform.pid'))).toBe(false)
    await expect(fetch(`${s.target}/health/live`)).rejects.toThrow()
  }, 120_000)

  it('the scenario exercises every endpoint of the contract without a failure (real PostgreSQL when available)', async () => {
    // Seed 15 gives every endpoint at least a few requests in 20 s; choices follow from the seed.
    const DATABASE_URL = pgUrl() ? await createPgDatabase() : undefined
    const {code, s, stderr} = await loadTest(
      ['load', 'custom', '--users', '40', '--spawn-rate', '40', '--duration', '20s', '--seed', '15'],
      {env: {DATABASE_URL}, timeoutMs: 120_000},
    )
    expect(s.seed).toBe(15)
    const counts = Object.fromEntries(s.endpoints.map((e) => [e.endpoint, [e.count > 0, e.failures]]))
    expect(counts, explain(s, stderr)).toEqual(Object.fromEntries(ENDPOINTS.map((e) => [e, [true, 0]])))
    expect(s.total.failures).toBe(0)
    expect(code, explain(s, stderr)).toBe(0)
    expect(readFileSync(join(s.reportDir, 'run.log'), 'utf8')).toContain(
      DATABASE_URL ? 'embedded platform (DATABASE_URL)' : 'embedded platform (embedded PostgreSQL',
    )
  }, 150_000)
})

describe('Ctrl-C', () => {
  it('during a smoke run on a throwaway platform: partial reports marked interrupted, exit 130, the temporary directory gone', async () => {
    // A private TMPDIR: the throwaway platform's directory is made there, so its removal can be checked.
    const TMPDIR = tmp()
    const report = join(tmp(), 'report')
    const child = spawnCli(['test', 'smoke', '--duration', '60s', '--report', report], {cwd: tmp(), env: {TMPDIR, DATABASE_URL: undefined}})
    // The first progress line: the users are running.
    const running = async () => /\d+s\/1m00s {2}users/.test(child.output()) || child.exitCode !== null
    await waitFor('a progress line', running, {every: 100, detail: async () => child.output()})
    const made = readdirSync(TMPDIR).filter((d) => d.startsWith('platform-loadtest-'))
    expect(made, child.output()).toHaveLength(1)
    const cluster = clusterDir(join(TMPDIR, made[0]!)) // the embedded PostgreSQL's, wherever it lives
    child.kill('SIGINT')
    const code = await exited(child)
    const out = child.output()
    expect(code, out).toBe(130)

    const s = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as Summary
    expect(s.interrupted).toEqual({signal: 'SIGINT', plannedDuration: 60})
    expect(s.verdict).toMatchObject({status: 'INTERRUPTED', exitCode: 130})
    expect(s.duration).toBeLessThan(60)
    expect(s.total.count).toBeGreaterThan(0)
    expect(s.total.failures).toBe(0)
    const junit = readFileSync(join(report, 'junit.xml'), 'utf8')
    expect(junit).toMatch(/<testcase classname="run" name="run completed">\s*<failure message="interrupted by SIGINT/)
    expect(readFileSync(join(report, 'report.html'), 'utf8')).toContain('"interrupted":{"signal":"SIGINT"')
    // What ran is printed: the endpoint table, the verdict once, and where the report is.
    expect(out).toMatch(/^total +\d+/m)
    expect(out.split(s.verdict.sentence)).toHaveLength(2)
    expect(out).toContain(`report: ${join(report, 'report.html')}`)
    // The platform the run started is stopped and its directory removed.
    expect(readdirSync(TMPDIR).filter((d) => d.startsWith('platform-loadtest-'))).toEqual([])
    expect(existsSync(cluster), cluster).toBe(false)
    await expect(fetch(`${s.target}/health/live`)).rejects.toThrow()
  }, 120_000)

  it('while the throwaway platform starts: exit 130, no load, the temporary directory gone', async () => {
    const TMPDIR = tmp()
    const report = join(tmp(), 'report')
    const child = spawnCli(['test', 'smoke', '--report', report], {cwd: tmp(), env: {TMPDIR, DATABASE_URL: undefined}})
    const starting = async () => child.output().includes('target: a new embedded platform') || child.exitCode !== null
    await waitFor('the platform starting', starting, {every: 20, ms: 30_000, detail: async () => child.output()})
    const cluster = clusterDir(join(TMPDIR, readdirSync(TMPDIR).find((d) => d.startsWith('platform-loadtest-'))!))
    child.kill('SIGINT')
    const code = await exited(child)
    expect(code, child.output()).toBe(130)
    // Usually before the load (nothing to report); on a fast machine the run may have begun, and its report says so.
    const summary = join(report, 'summary.json')
    if (existsSync(summary)) expect(JSON.parse(readFileSync(summary, 'utf8')).verdict.status).toBe('INTERRUPTED')
    else expect(child.output()).toContain('before the load started; nothing ran')
    expect(readdirSync(TMPDIR).filter((d) => d.startsWith('platform-loadtest-'))).toEqual([])
    expect(existsSync(cluster), cluster).toBe(false)
  }, 60_000)
})

describe('on a terminal', () => {
  it('the live view is redrawn in place (a pseudo-terminal from util-linux script), then the summary', async () => {
    await withTarget(async (t) => {
      const args = custom(t, '--users', '2', '--spawn-rate', '2', '--duration', '4s', '--interval', '1', '--report', join(tmp(), 'r'))
      const cmd = [process.execPath, BIN, 'test', ...args].map((a) => `'${a}'`).join(' ')
      const env = {...process.env, NODE_ENV: 'production', NO_COLOR: '1'}
      const out = await new Promise<{code: number; text: string}>((resolve) => {
        const done = (err: {code?: unknown} | null, stdout: string) => resolve({code: err ? Number(err.code) : 0, text: stdout})
        execFile('script', ['-qfec', cmd, '/dev/null'], {env, timeout: 60_000}, done)
      })
      expect(out.code, out.text).toBe(0)
      expect(out.text).toMatch(/custom [█░]+ \d+s \/ 4s +\d+%/) // the progress bar
      expect(out.text).toContain('\x1b[3A\x1b[0J') // the three lines redrawn in place
      expect(out.text).not.toMatch(/\ds\/4s {2}users/) // no plain progress lines on a terminal
      expect(out.text.match(/PASSED: /g)).toHaveLength(1)
    })
  }, 60_000)
})

describe('the report file', () => {
  /** A PATH holding only an xdg-open that records what it was asked to open (a desktop cannot exist here). */
  function fakeOpener(): {path: string; opened: () => string} {
    const dir = tmp()
    const log = join(dir, 'opened')
    writeFileSync(join(dir, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${log}'\n`)
    chmodSync(join(dir, 'xdg-open'), 0o755)
    return {path: dir, opened: () => (existsSync(log) ? readFileSync(log, 'utf8') : '')}
  }

  it('the CLI prints the path of report.html, and --open opens it, or says why it cannot', async () => {
    await withTarget(async (t) => {
      const opener = fakeOpener()
      const report = join(tmp(), 'r')
      const args = ['test', ...custom(t, '--users', '2', '--spawn-rate', '2', '--duration', '2s', '--report', report, '--open')]
      const r = await runCli(args, {cwd: tmp(), env: {PATH: opener.path}})
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`report: ${join(report, 'report.html')}`)
      expect(r.stdout.match(/PASSED: /g)).toHaveLength(1) // the verdict, once
      const deadline = Date.now() + 5000
      while (!opener.opened() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50))
      expect(opener.opened()).toBe(join(report, 'report.html'))

      const none = await runCli(args, {cwd: tmp(), env: {PATH: tmp()}})
      expect(none.code, none.stderr).toBe(0)
      const html = join(report, 'report.html')
      expect(none.stderr).toContain(`cannot open the report: xdg-open is not installed here; open ${html} in a browser`)
    })
  }, 60_000)
})

describe('against a fake target', () => {
  it('a route answering 500 and one that sleeps: failure group, threshold verdicts, JUnit failures, exit 1', async () => {
    await withTarget(async (t) => {
      t.set(PATCH_AGENT, {status: 500})
      t.set(LIST_GOALS, {delayMs: 700})
      const junit = join(tmp(), 'out', 'junit.xml')
      // Seed 51 patches several different agents within 8 s.
      const {code, s} = await loadTest(
        custom(t, '--users', '20', '--spawn-rate', '20', '--duration', '8s', '--seed', '51', '--junit', junit),
      )
      expect(code).toBe(1)
      expect(s.verdict.status).toBe('FAILED')
      expect(s.verdict.sentence).toMatch(/^FAILED: /)

      // One group for every failed PATCH, whatever agent it named.
      const patches = t.requests.filter((r) => r.endpoint === PATCH_AGENT)
      expect(new Set(patches.map((r) => r.url)).size).toBeGreaterThanOrEqual(2)
      const patch = s.endpoints.find((e) => e.endpoint === PATCH_AGENT)!
      expect(patch.failures).toBe(patches.length)
      expect(s.failures).toHaveLength(1)
      const [g] = s.failures
      expect(g).toMatchObject({endpoint: PATCH_AGENT, status: 500, message: 'INTERNAL: boom for agent <uuid>', count: patch.failures})
      expect(g!.firstSeen.t).toBeGreaterThanOrEqual(0)
      expect(g!.firstSeen.users).toBeGreaterThan(0)
      expect(g!.sample.request.method).toBe('PATCH')
      const id = new RegExp(`^/api/v1/agents/(${UUID})$`).exec(g!.sample.request.url)?.[1]
      expect(id).toBeDefined()
      expect(g!.sample.response).toEqual({status: 500, body: {error: 'INTERNAL', message: `boom for agent ${id}`}})

      // The endpoint thresholds that failed are exactly those two; the total fails with them.
      expect(failed(s)).toEqual([`errors of ${PATCH_AGENT}`, 'errors of total', `p95 of ${LIST_GOALS}`, 'p95 of total'])
      const xml = readFileSync(junit, 'utf8')
      const failures = [...xml.matchAll(/<testcase classname="([^"]*)" name="(\w+) [^"]*">\s*<failure/g)]
        .map((m) => `${m[2]} of ${m[1]}`)
        .sort()
      expect(failures).toEqual(failed(s))

      // Ids came only from 201s: every id in a path was handed out by the target, and none was unknown.
      for (const r of t.requests) {
        const m = /^\/api\/v1\/\w+\/([^/?]+)$/.exec(r.url)
        if (m) expect(t.issued.has(decodeURIComponent(m[1]!)), `${r.method} ${r.url}`).toBe(true)
      }
      expect(t.requests.filter((r) => r.status === 404)).toEqual([])
      // the contract's scenario as it was: no Idempotency-Key without --idempotency
      expect(t.requests.filter((r) => r.idempotencyKey !== undefined)).toEqual([])
    })
  }, 60_000)

  it('--idempotency: every create carries a key, retried once with it after a 503 or no answer; the first attempt fails', async () => {
    await withTarget(async (t) => {
      const CREATE_AGENT = 'POST /api/v1/agents/'
      const CREATE_GOAL = 'POST /api/v1/goals/'
      t.set(CREATE_AGENT, {status: 503, firstOnly: true})
      t.set(CREATE_GOAL, {drop: true, firstOnly: true})
      const args = custom(t, '--users', '10', '--spawn-rate', '10', '--duration', '5s', '--seed', '7', '--idempotency')
      const {s, stderr} = await loadTest(args)
      for (const [endpoint, first] of [
        [CREATE_AGENT, 503],
        [CREATE_GOAL, 0],
        ['POST /api/v1/tasks/', 201],
      ] as const) {
        const sent = t.requests.filter((r) => r.endpoint === endpoint)
        expect(sent.length, `${endpoint}: ${explain(s, stderr)}`).toBeGreaterThan(0)
        expect(
          sent.filter((r) => r.idempotencyKey === undefined),
          endpoint,
        ).toEqual([])
        const byKey = new Map<string | undefined, typeof sent>()
        for (const r of sent) byKey.set(r.idempotencyKey, [...(byKey.get(r.idempotencyKey) ?? []), r])
        // a 503 or a dropped connection: one retry with the same key, which succeeds; a 201: no retry
        for (const tries of byKey.values()) expect(tries.map((r) => r.status)).toEqual(first === 201 ? [201] : [first, 201])
        const stats = s.endpoints.find((e) => e.endpoint === endpoint)!
        expect(stats.count).toBe(sent.length)
        expect(stats.failures).toBe(first === 201 ? 0 : byKey.size)
      }
      // the id kept is the retry's: every id used later was handed out in a 201
      for (const r of t.requests) {
        const m = /^\/api\/v1\/\w+\/([^/?]+)$/.exec(r.url)
        if (m) expect(t.issued.has(decodeURIComponent(m[1]!)), `${r.method} ${r.url}`).toBe(true)
      }
    })
  }, 60_000)

  it('--baseline: the same run passes (exit 0), a slower one regresses (exit 4)', async () => {
    await withTarget(async (t) => {
      // 50 ms answers with a 50% tolerance: noise from a busy machine stays well inside it; 250 ms does not.
      t.set('*', {delayMs: 50})
      const dir = tmp()
      const args = ['--users', '20', '--spawn-rate', '20', '--duration', '4s', '--seed', '3', '--tolerance', '50']
      const first = await loadTest(custom(t, ...args, '--report', join(dir, 'first')))
      expect(first.code, explain(first.s)).toBe(0)
      const baseline = join(dir, 'first', 'summary.json')

      const same = await loadTest(custom(t, ...args, '--baseline', baseline))
      expect(same.code, JSON.stringify(same.s.baseline?.changes.filter((c) => c.regressed))).toBe(0)
      expect(same.s.verdict.status).toBe('PASSED')
      expect(same.s.baseline).toMatchObject({file: baseline, regressed: false, tolerance: 0.5})

      t.set('*', {delayMs: 250})
      const slow = await loadTest(custom(t, ...args, '--baseline', baseline, '--threshold', 'p95<5s'))
      expect(slow.code, explain(slow.s)).toBe(4)
      expect(slow.s.verdict.status).toBe('REGRESSED')
      expect(slow.s.verdict.sentence).toMatch(/^REGRESSED: p95 of /)
      expect(slow.s.baseline!.regressed).toBe(true)
      expect(slow.s.baseline!.changes).toContainEqual(expect.objectContaining({scope: 'total', metric: 'p95', regressed: true}))
      expect(slow.s.thresholds.every((x) => x.passed)).toBe(true)
    })
  }, 90_000)

  it('a starved generator makes the run INVALID (exit 5), naming the generator', async () => {
    await withTarget(async (t) => {
      const {code, s} = await loadTest(custom(t, '--users', '10', '--spawn-rate', '10', '--duration', '3s', '--starve-ms', '45'))
      expect(code, explain(s)).toBe(5)
      expect(s.verdict.status).toBe('INVALID')
      expect(s.validity.valid).toBe(false)
      expect(s.verdict.sentence).toMatch(/^INVALID: .*generator/)
      expect(s.validity.reasons.some((r) => r.includes('generator'))).toBe(true)
    })
  }, 60_000)

  it('--abort-on-fail stops a failing 60 s run early (exit 1)', async () => {
    await withTarget(async (t) => {
      t.set('*', {status: 500})
      const {code, s} = await loadTest(custom(t, '--users', '20', '--spawn-rate', '20', '--duration', '60s', '--abort-on-fail'))
      expect(code).toBe(1)
      expect(s.verdict).toMatchObject({status: 'FAILED', aborted: true})
      expect(s.verdict.sentence).toContain('stopped early: ')
      expect(s.duration).toBeLessThan(30)
      expect(s.total.failures).toBe(s.total.count)
    })
  }, 60_000)

  it('open model: latency runs from the intended send time, so a 1 s stall shows in p95; ' +
    'closed users send at most one request each into it', async () => {
    const STALL = 1000
    /** Requests the target took up right after its stall: those that arrived while it was stuck. */
    const queued = (t: FakeTarget) => {
      const [st] = t.stalls
      expect(st).toBeDefined()
      return t.requests.filter((r) => r.at >= st!.end && r.at <= st!.end + 100).length
    }
    const base = ['--users', '5', '--spawn-rate', '5', '--duration', '4s', '--seed', '1']

    const open = await withTarget(async (t) => {
      t.set('*', {delayMs: 5})
      t.stall(STALL, 40)
      const {s} = await loadTest(custom(t, ...base, '--rate', '50'))
      return {s, queued: queued(t)}
    })
    expect(open.s).toMatchObject({model: 'open', rate: 50})
    expect(open.s.validity.valid).toBe(true) // the target, not the generator, was slow
    expect(open.queued).toBeGreaterThanOrEqual(25) // arrivals kept their schedule during the stall
    expect(open.s.total.p95).toBeGreaterThanOrEqual(300)
    expect(open.s.total.max).toBeGreaterThanOrEqual(STALL * 0.9)
    expect(open.s.total.min).toBeGreaterThanOrEqual(5) // never measured from before a request was sent

    const closed = await withTarget(async (t) => {
      t.set('*', {delayMs: 5})
      t.stall(STALL, 8)
      const {s} = await loadTest(custom(t, ...base))
      return {s, queued: queued(t)}
    })
    expect(closed.s.model).toBe('closed')
    expect(closed.s.validity.valid).toBe(true)
    expect(closed.queued).toBeLessThanOrEqual(5) // each user waits on its one request: the closed model's coordinated omission
    expect(closed.s.total.max).toBeGreaterThanOrEqual(STALL * 0.9)
  }, 90_000)
})

describe.concurrent('usage and environment errors', () => {
  let t: FakeTarget
  beforeAll(async () => void (t = await startFakeTarget()))
  afterAll(() => t.close())

  it.each<[string, number, string, RegExp, () => Promise<string[]>]>([
    ['an unknown threshold metric', 2, 'USAGE', /unknown metric "p42"/, async () => ['smoke', '--threshold', 'p42<500']],
    [
      'an unknown endpoint in a threshold',
      2,
      'USAGE',
      /unknown endpoint "GET \/api\/v1\/nope"/,
      async () => ['smoke', '--threshold', 'GET /api/v1/nope p95<5'],
    ],
    [
      'a custom profile without its figures',
      2,
      'USAGE',
      /needs --users, --spawn-rate and --duration/,
      async () => ['load', 'custom', '--users', '5'],
    ],
    [
      'a target nobody listens on',
      3,
      'ENVIRONMENT_UNAVAILABLE',
      /is not ready/,
      async () => ['smoke', '--target', `http://127.0.0.1:${await freePort()}`, '--api-key', 'k'],
    ],
    ['a wrong API key', 2, 'UNAUTHORIZED', /refused the API key/, async () => ['smoke', '--target', t.url, '--api-key', 'wrong-key']],
  ])('%s: exit %i, one JSON error document', async (_, exit, error, message, args) => {
    const r = await runCli(['test', ...(await args()), '--json'], {cwd: tmp(), timeoutMs: 20_000})
    expect(r.code, r.stderr).toBe(exit)
    const doc = JSON.parse(r.stdout) as {error: string; message: string; suggestion?: string}
    expect(doc.error).toBe(error)
    expect(doc.message).toMatch(message)
    expect(doc.suggestion).toBeTruthy()
  })

  it('an unknown profile: exit 2 with the allowed ones', async () => {
    const r = await runCli(['test', 'load', 'nonsense'], {cwd: tmp(), timeoutMs: 20_000})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Expected nonsense to be one of: normal, peak, endurance, custom,\W+smoke/)
  })

  it('a wrong key is refused before any load: only the preflight reached the target', async () => {
    const before = t.requests.length
    const r = await runCli(['test', 'smoke', '--target', t.url, '--api-key', 'another-wrong-key'], {cwd: tmp(), timeoutMs: 20_000})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('refused the API key')
    expect(r.stderr).toContain('--api-key')
    // Other cases run concurrently on this target; none of them gets past the preflight either.
    expect(t.requests.slice(before).every((q) => q.url === '/health/ready' || q.status === 401)).toBe(true)
  })
})

describe('a distributed run over generator processes of bin/run.js (--generators, no Swarm)', () => {
  /** The `platform test generator` processes a run's CLI process started. */
  const generatorsOf = (pid: number) =>
    new Promise<number[]>((resolve) =>
      execFile('pgrep', ['-P', String(pid), '-f', 'test generator'], (_err, stdout) =>
        resolve(stdout.split('\n').filter(Boolean).map(Number)),
      ),
    )

  it('smoke with 2 generators against the embedded platform: one merged result, a row per generator', async () => {
    const {code, s, stderr} = await loadTest(['smoke', '--generators', '2', '--duration', '8s'], {
      env: {DATABASE_URL: undefined},
      timeoutMs: 90_000,
    })
    expect(code, explain(s, stderr)).toBe(0)
    expect(s.generators!.map((g) => [g.name, g.node, g.valid])).toEqual([
      ['generator 1', hostname(), true],
      ['generator 2', hostname(), true],
    ])
    // The users were split between them, and the merged count is the sum of theirs.
    for (const g of s.generators!) expect(g.count).toBeGreaterThan(0)
    expect(s.generators!.reduce((n, g) => n + g.count, 0)).toBe(s.total.count)
    expect(s.total.failures).toBe(0)
    const html = readFileSync(join(s.reportDir, 'report.html'), 'utf8')
    expect(html).toContain('"generators":[{"name":"generator 1"')
    expect(readFileSync(join(s.reportDir, 'run.log'), 'utf8')).toMatch(
      /2 generator\(s\) as processes on this machine, coordinator http:\/\/127\.0\.0\.1:\d+/,
    )
  }, 120_000)

  /** A 60 s run with 2 generator processes against t, once its users run: the CLI process and the generators' pids. */
  async function distributedRun(t: FakeTarget, report: string, ...more: string[]) {
    const args = ['--users', '4', '--spawn-rate', '4', '--duration', '60s', '--generators', '2', '--report', report, ...more]
    const child = spawnCli(['test', ...custom(t, ...args)], {cwd: tmp()})
    const running = async () => /\d+s\/1m00s {2}users/.test(child.output()) || child.exitCode !== null
    await waitFor('a progress line', running, {every: 100, detail: async () => child.output()})
    const gens = await generatorsOf(child.pid!)
    expect(gens, child.output()).toHaveLength(2)
    return {child, gens}
  }

  it(
    'a generator killed mid-run fails the run INVALID (exit 5) with its name, the reports written, the other one stopped',
    () =>
      withTarget(async (t) => {
        const report = join(tmp(), 'report')
        const {child, gens} = await distributedRun(t, report, '--interval', '1')
        process.kill(gens[1]!, 'SIGKILL')
        expect(await exited(child), child.output()).toBe(5)
        const s = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as Summary
        expect(s.verdict.status).toBe('INVALID')
        expect(s.verdict.sentence).toMatch(new RegExp(`^INVALID: generator \\d on node ${hostname()} stopped reporting at \\d+ s$`))
        expect(s.generators!.filter((g) => g.lost)).toHaveLength(1)
        expect(s.duration).toBeLessThan(30)
        expect(gens.filter(pidAlive)).toEqual([])
      }),
    90_000,
  )

  it(
    'Ctrl-C: exit 130, the reports marked interrupted, no generator process left',
    () =>
      withTarget(async (t) => {
        const report = join(tmp(), 'report')
        const {child, gens} = await distributedRun(t, report)
        child.kill('SIGINT')
        expect(await exited(child), child.output()).toBe(130)
        expect((JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as Summary).verdict.status).toBe('INTERRUPTED')
        expect(gens.filter(pidAlive)).toEqual([])
      }),
    90_000,
  )

  it('--swarm with no Docker engine to reach: exit 3, saying so, before any load', async () => {
    const r = await runCli(['test', 'smoke', '--swarm', '--duration', '5s'], {
      cwd: tmp(),
      env: {DOCKER_HOST: `unix://${join(tmp(), 'no-docker.sock')}`},
    })
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toMatch(/Docker/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // a message, not a stack trace
  })

  it('test generator refuses to run without an API key in its environment, with exit 2', async () => {
    const r = await runCli(['test', 'generator', '--coordinator', 'http://127.0.0.1:1', '--token', 't'], {
      cwd: tmp(),
      env: {PLATFORM_API_KEY: undefined},
    })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('a generator needs the API key in PLATFORM_API_KEY or PLATFORM_API_KEY_FILE')
  })
})
