/**
 * What the benchmarks share: options, a timed concurrent request loop (undici + HDR
 * histogram), the platform started in a child process, readiness polling, tables, and
 * cleanup that also runs on error and on Ctrl-C.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {build, type Histogram} from 'hdr-histogram-js'
import {Pool, request as httpRequest} from 'undici'
import {readFileOr} from '../src/core/index.js'
import {clusterDir, runningClusterUrl} from '../src/db/index.js'
import {DEFAULT_TOPOLOGY} from '../src/embedded/index.js'
import {freePort} from '../test/support/postgres.js'

export {freePort}
export {DEFAULT_TOPOLOGY}

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
export const log = (msg: string): void => void process.stderr.write(`${msg}\n`)
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** p, or 'timeout' after ms (the timer never keeps the process alive past p). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(r, ms, 'timeout')))])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * --json plus the given numeric options (`--name N`): whole numbers >= 1, except those
 * listed as `fractional` (any number > 0) and `zero` (0 allowed too).
 */
export function benchArgs<K extends string>(
  defaults: Record<K, number>,
  kinds: {fractional?: NoInfer<K>[]; zero?: NoInfer<K>[]} = {},
): Record<K, number> & {json: boolean} {
  const options: Record<string, {type: 'string' | 'boolean'; default?: string | boolean}> = {json: {type: 'boolean', default: false}}
  for (const [k, v] of Object.entries<number>(defaults)) options[k] = {type: 'string', default: String(v)}
  const usage = (msg: string): never => {
    log(
      `usage error: ${msg}; options: --json ${Object.entries<number>(defaults)
        .map(([k, v]) => `--${k} N (default ${v})`)
        .join(' ')}`,
    )
    process.exit(2)
  }
  let values: Record<string, string | boolean | undefined> = {}
  try {
    values = parseArgs({options, strict: true}).values as typeof values
  } catch (err) {
    usage((err as Error).message)
  }
  const out: Record<string, number | boolean> = {json: Boolean(values.json)}
  for (const k of Object.keys(defaults) as K[]) {
    const n = Number(values[k])
    const zero = kinds.zero?.includes(k) ?? false
    const fractional = zero || (kinds.fractional?.includes(k) ?? false)
    if (!(Number.isFinite(n) && (fractional || Number.isInteger(n)) && (n > 0 || (n === 0 && zero)))) {
      usage(`--${k} must be ${fractional ? 'a number' : 'a whole number'} ${zero ? '>= 0' : '> 0'}, got ${String(values[k])}`)
    }
    out[k] = n
  }
  return out as Record<K, number> & {json: boolean}
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A table with a header row: the first `left` columns left-aligned, the others right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>, left = 1): string {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells
    .map((r) =>
      r
        .map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-')

/** /proc/loadavg's first three figures (1, 5, 15 min), or '' where there is none: these machines are shared. */
export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {
    return ''
  }
}

// ---------------------------------------------------------------------------------------
// Cleanup: every benchmark runs inside runBench, which undoes what it started, LIFO.

type Cleanup = () => unknown
const cleanups: Cleanup[] = []
/** Runs fn when the benchmark ends, however it ends. */
export const onCleanup = (fn: Cleanup): void => void cleanups.push(fn)

async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!()
    } catch (err) {
      log(`cleanup: ${(err as Error).message}`)
    }
  }
}

/** Runs main; exit code 1 only when it throws (the run failed), 0 whatever the figures. */
export async function runBench(main: () => Promise<void>): Promise<void> {
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: cleaning up`)
    void runCleanups().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await main()
  } catch (err) {
    log(`benchmark failed: ${(err as Error).stack ?? String(err)}`)
    process.exitCode = 1
  } finally {
    await runCleanups()
  }
}

/** A temp directory removed at the end. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755) // as a project directory is: its embedded cluster lives inside it
  onCleanup(() => rmSync(dir, {recursive: true, force: true}))
  return dir
}

// ---------------------------------------------------------------------------------------
// HTTP.

export interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  headers?: Record<string, string>
  body?: unknown
}

/** One request on pool; the body is read whole. Connection errors throw. */
export async function send(pool: Pool, c: Call): Promise<{status: number; text: string}> {
  const res = await pool.request({
    method: c.method,
    path: c.path,
    headers: c.headers,
    body: c.body === undefined ? undefined : JSON.stringify(c.body),
  })
  return {status: res.statusCode, text: await res.body.text()}
}

/** GET url once with a short timeout: the status, or 0 when nothing answers. */
export async function probe(url: string, timeoutMs = 1000): Promise<number> {
  try {
    const res = await httpRequest(url, {signal: AbortSignal.timeout(timeoutMs), reset: true})
    await res.body.dump()
    return res.statusCode
  } catch {
    return 0
  }
}

/** Polls url every intervalMs until it answers 200; throws after timeoutMs or when abort() says why to stop. */
export async function waitFor200(
  url: string,
  opts: {timeoutMs: number; intervalMs?: number; abort?: () => string | undefined},
): Promise<void> {
  const deadline = performance.now() + opts.timeoutMs
  while (performance.now() < deadline) {
    if ((await probe(url)) === 200) return
    const why = opts.abort?.()
    if (why) throw new Error(`${url} never answered 200: ${why}`)
    await sleep(opts.intervalMs ?? 50)
  }
  throw new Error(`${url} did not answer 200 within ${opts.timeoutMs} ms`)
}

// ---------------------------------------------------------------------------------------
// The timed loop.

/** What one request of a virtual user did: true, or why it failed. */
export type Outcome = true | string
/** A virtual user: called again and again until the time is up, one request per call. */
export type User = () => Promise<Outcome>

export interface LoadResult {
  ok: number
  errors: number
  firstError?: string
  /** Failures by kind: the outcome up to its response body. */
  errorsBy: Record<string, number>
  seconds: number
  /** Successful requests per second. */
  rate: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  /** Latency of every request, failed ones included, in microseconds. */
  hist: Histogram
}

/**
 * Runs `concurrency` virtual users side by side for `seconds`, each doing one request at a
 * time, with no pause or, given `rate`, paced so that all together start `rate` requests a
 * second (each user's requests on a schedule of its own, so a slow answer is not made up
 * for by a burst); a request in flight at the deadline is finished, not counted further.
 */
export async function timedLoop(opts: {
  seconds: number
  concurrency: number
  user: (vu: number) => User
  rate?: number
}): Promise<LoadResult> {
  const hist = build()
  let ok = 0
  let errors = 0
  let firstError: string | undefined
  const errorsBy: Record<string, number> = {}
  const start = performance.now()
  const deadline = start + opts.seconds * 1000
  const gapMs = opts.rate ? (1000 * opts.concurrency) / opts.rate : 0
  const run = async (user: User, vu: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      if (gapMs) {
        const due = start + (vu / opts.concurrency + i) * gapMs
        if (due > deadline) break
        if (due > performance.now()) await sleep(due - performance.now())
      }
      const t0 = performance.now()
      let outcome: Outcome
      try {
        outcome = await user()
      } catch (err) {
        const e = err as Error & {code?: string}
        outcome = e.code ?? e.message
      }
      hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)))
      if (outcome === true) ok++
      else {
        errors++
        firstError ??= outcome
        const kind = outcome.split(' {')[0]!.slice(0, 100)
        errorsBy[kind] = (errorsBy[kind] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({length: opts.concurrency}, (_, vu) => run(opts.user(vu), vu)))
  const seconds = (performance.now() - start) / 1000
  const at = (p: number) => hist.getValueAtPercentile(p) / 1000
  return {ok, errors, firstError, errorsBy, seconds, rate: ok / seconds, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), hist}
}

/** A keep-alive pool of `connections` to url, closed at the end; a request unanswered for 10 s fails. */
export function pool(url: string, connections: number): Pool {
  const p = new Pool(url, {connections, keepAliveTimeout: 30_000, connectTimeout: 10_000, headersTimeout: 10_000, bodyTimeout: 10_000})
  onCleanup(() => p.destroy())
  return p
}

// ---------------------------------------------------------------------------------------
// The embedded platform in a child process: the load generator never shares its loop.

export interface PlatformChild {
  pid: number
  l01: string
  l09: string
  stateDir: string
  /** The key L09 accepts and the one L01 requires. */
  apiKey: string
  internalKey: string
  /** Why the child stopped, if it did. */
  exited(): string | undefined
  stop(): Promise<void>
}

/**
 * `node bin/run.js up --topology T --log-level silent` (the built CLI, as a user runs it)
 * in its own process group, on free loopback ports and a fresh state dir; resolves once
 * L09's /health/ready answers 200. Stopped with SIGTERM (the product's own shutdown), then
 * SIGKILL to the whole group after 15 s so no service process outlives the benchmark; its
 * temp dir goes with it.
 */
export async function startPlatformChild(opts: {
  topology: string
  databaseUrl?: string
  timeoutMs?: number
  args?: string[]
  logLevel?: string
}): Promise<PlatformChild> {
  const root = tempDir(`bench-${opts.topology}-`)
  const stateDir = join(root, '.platform')
  const [l01Port, l09Port] = [await freePort(), await freePort()]
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    PLATFORM_STATE_DIR: stateDir,
    L01_PORT: String(l01Port),
    L09_PORT: String(l09Port),
  }
  for (const k of [
    'DATABASE_URL',
    'L01_API_KEY',
    'PLATFORM_API_KEYS',
    'L01_URL',
    'L01_HOST',
    'L09_HOST',
    'PLATFORM_DATA_DIR',
    'PLATFORM_MODE',
    'PLATFORM_DB_ENGINE',
  ]) {
    delete env[k]
  }
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl
  const bin = join(builtCli(['dist/commands/up.js']), 'bin', 'run.js')
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'up', '--topology', opts.topology, '--log-level', opts.logLevel ?? 'silent', ...(opts.args ?? [])],
    {
      cwd: root,
      env,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let tail = ''
  child.stderr!.on('data', (d: Buffer) => void (tail = (tail + d).slice(-4000)))
  let exit: string | undefined
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      exit = `exited (${sig ?? code}); its stderr ended with:\n${tail.trimEnd()}`
      resolve()
    }),
  )
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      if (!exit) child.kill('SIGTERM')
      await within(exited, 15_000)
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // the group is gone: nothing outlived the child
      }
      rmSync(root, {recursive: true, force: true})
    })())
  onCleanup(stop)
  const l09 = `http://127.0.0.1:${l09Port}`
  await waitFor200(`${l09}/health/ready`, {timeoutMs: opts.timeoutMs ?? 90_000, abort: () => exit})
  return {
    pid: child.pid!,
    l01: `http://127.0.0.1:${l01Port}`,
    l09,
    stateDir,
    apiKey: readFileSync(join(stateDir, 'api.key'), 'utf8').trim(),
    internalKey: readFileSync(join(stateDir, 'internal.key'), 'utf8').trim(),
    exited: () => exit,
    stop,
  }
}

/**
 * The built CLI's package root, built first when dist/ lacks one of the files a benchmark
 * runs (`npm run build` writes oclif.manifest.json last, so it marks a finished build).
 */
export function builtCli(files: string[]): string {
  const complete = () => ['oclif.manifest.json', ...files].every((f) => existsSync(join(ROOT, f)))
  if (!complete()) {
    log('dist/ is missing or incomplete: npm run build')
    const r = spawnSync('npm', ['run', 'build'], {cwd: ROOT, stdio: ['ignore', 2, 2]})
    if (r.status !== 0 || !complete()) throw new Error(`npm run build failed (${r.status ?? r.signal})`)
  }
  return ROOT
}

/** Medians (and totals) of a benchmark side's timed runs. */
export function summarise(runs: LoadResult[]) {
  return {
    rate: median(runs.map((r) => r.rate)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p95Ms: median(runs.map((r) => r.p95Ms)),
    ok: runs.reduce((n, r) => n + r.ok, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    firstError: runs.find((r) => r.firstError)?.firstError,
    rates: runs.map((r) => Math.round(r.rate)),
  }
}

/**
 * The platform as `platform up` starts it by default (its default topology, on its embedded
 * PostgreSQL) in a child process with a fresh state directory, and the URL of that database;
 * all cleaned up with the run. L01 migrates before it listens, so the schema exists once this
 * resolves.
 */
export async function startPlatformOnPostgres(opts: {logLevel?: string} = {}): Promise<{databaseUrl: string; platform: PlatformChild}> {
  log(`starting the platform (${DEFAULT_TOPOLOGY} topology, embedded PostgreSQL) in a child process`)
  const platform = await startPlatformChild({topology: DEFAULT_TOPOLOGY, logLevel: opts.logLevel})
  const databaseUrl = runningClusterUrl(platform.stateDir)
  if (!databaseUrl) throw new Error('the platform started without its embedded PostgreSQL')
  return {databaseUrl, platform}
}

/**
 * The resident memory (PSS where the kernel has it) of a process and of every process below it (Linux /proc), largest
 * first, with the part of it that is shared memory (PostgreSQL's shared buffers: a segment of a fixed size, resident as
 * its pages are first touched).
 */
export function processTreeRss(root: number): Array<{pid: number; command: string; rssMb: number; shmemMb: number}> {
  const stat = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8')
  const children = new Map<number, number[]>()
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const s = stat(d)
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)])
    } catch {
      // gone meanwhile
    }
  }
  const out: Array<{pid: number; command: string; rssMb: number; shmemMb: number}> = []
  const mb = (kb: number) => Math.round(kb / 102.4) / 10
  const visit = (pid: number) => {
    try {
      // PSS: shared pages (PostgreSQL's shared buffers, touched by every backend) count once across processes, not once each.
      const rollup = readFileOr(`/proc/${pid}/smaps_rollup`)
      const pss = /^Pss:\s+(\d+)/m.exec(rollup)?.[1]
      const rss = Number(pss ?? /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      const shmem = Number(/^Pss_Shmem:\s+(\d+)/m.exec(rollup)?.[1] ?? 0)
      const command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
      out.push({pid, command, rssMb: mb(rss), shmemMb: mb(shmem)})
    } catch {
      return
    }
    for (const c of children.get(pid) ?? []) visit(c)
  }
  visit(root)
  return out.sort((a, b) => b.rssMb - a.rssMb)
}

/** The embedded PostgreSQL's postmaster of a state directory (its processes are its children). */
export function postmasterPid(stateDir: string): number | undefined {
  const pid = Number(readFileSync(join(clusterDir(stateDir), 'postmaster.pid'), 'utf8').split('\n')[0])
  return pid > 0 ? pid : undefined
}

/** Runs a command to its end: ms from spawn to exit; throws with its output when it fails. */
export function timed(
  cmd: string,
  argv: string[],
  opts: {cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number},
): Promise<{ms: number; stdout: string; code: number}> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, argv, {cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let all = ''
    child.stdout.on('data', (d) => {
      stdout += d
      all += d
    })
    child.stderr.on('data', (d) => (all += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000)
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const ms = performance.now() - t0
      if (code === null) reject(new Error(`${cmd} ${argv.join(' ')} was killed (${signal}):\n${all.slice(-3000)}`))
      else resolve({ms, stdout, code})
    })
  })
}

/**
 * Small HTTP targets for the load-generator benchmarks: one process each (node:http on 127.0.0.1,
 * the scenario's /api/v1 routes with tiny fixed JSON bodies), fed their delay through the environment. They print
 * "listening PORT", count open connections (peak since the last GET /__stats), and exit when
 * their stdin closes, so none outlives this process even when it is killed.
 */

const SERVER = String.raw`
const http = require('node:http')
const {randomUUID} = require('node:crypto')
const delay = Number(process.env.DELAY_MS || 0)
let open = 0, peak = 0, requests = 0
const json = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}
const answer = (req, res) => {
  if (req.url === '/health/ready') return json(res, 200, {status: 'ready'})
  if (!req.url.startsWith('/api/v1/')) return json(res, 404, {error: {code: 'NOT_FOUND', message: 'no such route'}})
  if (req.method === 'POST') {
    const id = randomUUID()
    return json(res, 201, {id, goal_id: id, task_id: id})
  }
  json(res, 200, {})
}
const srv = http.createServer((req, res) => {
  const arrived = performance.now()
  if (req.url === '/__stats') {
    const body = {requests, peak, open}
    peak = open
    requests = 0
    return json(res, 200, body)
  }
  requests++
  req.resume()
  req.on('end', () => {
    if (!delay) return answer(req, res)
    // setTimeout fires at the earliest after its delay, often a millisecond later: wake a
    // millisecond early and poll, so the answer leaves at arrival + delay.
    const at = arrived + delay
    const poll = () => (performance.now() >= at ? answer(req, res) : setImmediate(poll))
    setTimeout(poll, Math.max(0, delay - 1.5))
  })
})
srv.on('connection', (s) => {
  if (++open > peak) peak = open
  s.once('close', () => open--)
})
srv.keepAliveTimeout = 60000
srv.headersTimeout = 65000
srv.requestTimeout = 0
srv.listen(0, '127.0.0.1', 4096, () => process.stdout.write('listening ' + srv.address().port + '\n'))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
`

export interface Server {
  url: string
  /** requests since the last call, and the peak of open connections since then */
  stats(): Promise<{requests: number; peak: number; open: number}>
  exited(): string | undefined
}

export async function startServer(name: string, delayMs: number): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER], {
    env: {...process.env, DELAY_MS: String(delayMs)},
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  let tail = ''
  child.stderr!.on('data', (d: Buffer) => void (tail = (tail + d).slice(-2000)))
  let exit: string | undefined
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      exit = `the ${name} server exited (${sig ?? code}): ${tail.trim()}`
      resolve()
    }),
  )
  onCleanup(async () => {
    if (!exit) child.kill('SIGTERM')
    if ((await within(exited, 5000)) === 'timeout') child.kill('SIGKILL')
  })
  const port = await within(
    new Promise<number>((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (d: Buffer) => {
        const m = /listening (\d+)/.exec((out += d))
        if (m) resolve(Number(m[1]))
      })
      void exited.then(() => reject(new Error(exit)))
    }),
    10_000,
  )
  if (port === 'timeout') throw new Error(`the ${name} server did not start within 10 s: ${tail.trim()}`)
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    stats: async () => {
      const res = await fetch(`${url}/__stats`, {signal: AbortSignal.timeout(5000)})
      return (await res.json()) as {requests: number; peak: number; open: number}
    },
    exited: () => exit,
  }
}
