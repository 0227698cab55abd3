/**
 * What the one-line-per-request log costs: CPU per request of the platform process (L01 and
 * L09 together, all threads, from /proc/PID/stat), with the default log level (info: each service
 * appends a line per request to .platform/platform.log) against the same platform with
 * `--log-level silent`, for `GET /api/v1/agents/:id` through L09. Measured at the scenario's
 * rate (`--rate`, about what the contract's scenario sends at 2,000 users: the target's
 * figure) and flat out at equal concurrency (for reference: there the CPU per request also
 * moves with how busy the 2 cores are). Platforms as `up` starts them, `--instances` of each
 * level, started and measured in turn (info, silent, silent, info, ...), each round beginning
 * with the next one: one platform can cost several percent more than another of the same
 * level for the whole of its life (where V8 and the scheduler put things), which with one
 * platform a side reads as the log's cost (three a side by default: with two, a bias of about
 * 2% was as large as the margin to the target). Each platform's median over the rounds; a level's
 * figure is the mean of its platforms', and the spread between platforms of one level is
 * printed as the noise floor. Before the first round each platform serves `--warmup` seconds
 * at each rate, unmeasured: V8 compiling both services is a one-off cost, not the log's.
 * Target: at the scenario's rate the log costs under 5% of the platform's CPU. Reports; exit 1
 * only when the run failed.
 *
 * First, the writer alone, in this process: CPU per request line written to a file by the
 * service log, against pino's own asynchronous destination (sonic-boom) in the same run.
 *
 *   node --import tsx bench/logging.ts [--seconds 5] [--rounds 5] [--concurrency 8] [--rate 900] [--warmup 10] [--instances 3] [--json]
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {FastifyBaseLogger} from 'fastify'
import pino from 'pino'
import type {Pool} from 'undici'
import {requestLineWriter, serviceLog} from '../src/observability/index.js'
import {
  benchArgs,
  fmt,
  loadavg,
  log,
  median,
  pool,
  runBench,
  send,
  startPlatformOnPostgres,
  table,
  tempDir,
  timedLoop,
  within,
  type PlatformChild,
} from './lib.js'

const TARGET = 0.05
const args = benchArgs(
  {seconds: 5, rounds: 5, concurrency: 8, rate: 900, warmup: 10, instances: 3},
  {fractional: ['seconds'], zero: ['warmup']},
)
const MODES = [
  {name: `at ${args.rate} req/s`, rate: args.rate},
  {name: 'flat out', rate: undefined},
] as const
const LEVELS = ['info', 'silent'] as const
type Level = (typeof LEVELS)[number]

interface Side {
  level: Level
  platform: PlatformChild
  http: Pool
  path: string
  headers: Record<string, string>
  /** per mode: CPU per request and req/s of each round */
  runs: Array<{usPerRequest: number[]; rates: number[]}>
}

/** CPU seconds (user + system) a process has used, all its threads together. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (100 Hz)
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

async function startSide(level: Level): Promise<Side> {
  const {platform} = await startPlatformOnPostgres({logLevel: level})
  const http = pool(platform.l09, args.concurrency)
  const headers = {'x-api-key': platform.apiKey, 'content-type': 'application/json'}
  const created = await send(http, {method: 'POST', path: '/api/v1/agents/', headers, body: {name: 'logged'}})
  if (created.status !== 201) throw new Error(`creating the agent: HTTP ${created.status}`)
  const id = (JSON.parse(created.text) as {id: string}).id
  const runs = MODES.map(() => ({usPerRequest: [] as number[], rates: [] as number[]}))
  return {level, platform, http, path: `/api/v1/agents/${id}`, headers, runs}
}

const WRITER_LINES = 200_000

/** CPU µs per request line through the service log's writer, into a file, everything written out. */
async function writerCost(kind: 'service log' | 'pino.destination'): Promise<number> {
  const file = join(tempDir('bench-log-'), 'platform.log')
  let logger: FastifyBaseLogger
  let done: () => Promise<void>
  if (kind === 'service log') {
    const own = serviceLog({level: 'info', file})
    if (!own.logger) throw new Error('the service log is off at level info')
    logger = pino({level: own.logger.level, name: 'l09-api-gateway'}, own.logger.stream) as unknown as FastifyBaseLogger
    done = own.flush
  } else {
    const stream = pino.destination({dest: file, sync: false, minLength: 4096})
    logger = pino({level: 'info', name: 'l09-api-gateway'}, stream) as unknown as FastifyBaseLogger
    done = () =>
      new Promise((resolve) => {
        stream.once('close', () => resolve())
        stream.end()
      })
  }
  const write = requestLineWriter(logger)
  const t0 = process.cpuUsage()
  for (let i = 0; i < WRITER_LINES; i++) {
    write({reqId: `r-${i}`, method: 'GET', route: '/api/v1/agents/:id', url: `/api/v1/agents/${i}`, status: 200, ms: 1.2})
    // A service writes between requests: the event loop turns, so asynchronous writes proceed.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r))
  }
  await done()
  const lines = readFileSync(file, 'utf8').split('\n').length - 1
  if (lines !== WRITER_LINES) throw new Error(`${kind}: ${lines} of ${WRITER_LINES} lines reached the file`)
  const cpu = process.cpuUsage(t0)
  return (cpu.user + cpu.system) / WRITER_LINES
}

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const writer = {'service log': [] as number[], 'pino.destination': [] as number[]}
  for (let round = 0; round < 3; round++) {
    for (const kind of ['service log', 'pino.destination'] as const) writer[kind].push(await writerCost(kind))
  }
  const perLine = {ours: median(writer['service log']), pino: median(writer['pino.destination'])}
  log(`the writer alone: ${fmt(perLine.ours, 2)} µs CPU per line, pino.destination ${fmt(perLine.pino, 2)}`)
  // info, silent, silent, info, info, silent, ...: neither level always goes first.
  const sides: Side[] = []
  for (let i = 0; i < args.instances; i++) {
    for (const level of i % 2 ? [...LEVELS].reverse() : LEVELS) sides.push(await startSide(level))
  }
  const userOf = (side: Side) => () => async () => {
    const r = await send(side.http, {method: 'GET', path: side.path, headers: side.headers})
    return r.status === 200 || `HTTP ${r.status}`
  }
  if (args.warmup) {
    log(`warming up: ${args.warmup} s per platform and rate`)
    for (const mode of MODES) {
      for (const side of sides) await timedLoop({seconds: args.warmup, concurrency: args.concurrency, user: userOf(side), rate: mode.rate})
    }
  }
  for (let round = 1; round <= args.rounds; round++) {
    for (const [m, mode] of MODES.entries()) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(round - 1 + i) % sides.length]!
        const user = userOf(side)
        await timedLoop({seconds: 1, concurrency: args.concurrency, user, rate: mode.rate})
        const cpu0 = cpuSeconds(side.platform.pid)
        const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user, rate: mode.rate})
        const cpu = cpuSeconds(side.platform.pid) - cpu0
        if (run.errors) throw new Error(`${run.errors} requests failed (${run.firstError})`)
        const us = (cpu * 1e6) / run.ok
        side.runs[m]!.usPerRequest.push(us)
        side.runs[m]!.rates.push(run.rate)
        const what = `round ${round} ${mode.name.padEnd(14)} ${side.level.padEnd(6)} #${sides.indexOf(side) + 1}`
        log(`${what} ${fmt(run.rate).padStart(6)} req/s  ${fmt(us, 1)} µs CPU per request`)
      }
    }
  }
  for (const side of sides) await within(side.http.close(), 5000)
  load.after = loadavg()
  const results = MODES.map((mode, m) => {
    const byLevel = LEVELS.map((level) => {
      const own = sides.filter((s) => s.level === level)
      const platforms = own.map((s) => median(s.runs[m]!.usPerRequest))
      const us = mean(platforms)
      return {
        level,
        platforms,
        usPerRequest: us,
        rate: mean(own.map((s) => median(s.runs[m]!.rates))),
        spread: (Math.max(...platforms) - Math.min(...platforms)) / us,
      }
    })
    const [logged, silent] = byLevel as [(typeof byLevel)[0], (typeof byLevel)[0]]
    return {
      mode: mode.name,
      rate: mode.rate ?? null,
      logged,
      silent,
      cost: (logged.usPerRequest - silent.usPerRequest) / logged.usPerRequest,
    }
  })
  const cost = results[0]!.cost
  const verdict = cost < TARGET ? 'PASS' : 'BELOW TARGET'
  if (args.json) {
    const doc = {benchmark: 'logging', loadavg: load, options: args, writer: perLine, results, cost, target: TARGET, verdict}
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`)
  } else {
    console.log(
      `GET /api/v1/agents/:id through L09, concurrency ${args.concurrency}, ${args.instances} platforms per level, ` +
        `${args.rounds} x ${args.seconds} s per platform and rate (medians); loadavg ${load.before} -> ${load.after}`,
    )
    console.log(
      table(
        ['rate', 'log level', 'req/s', 'µs CPU per request (platform process)', 'each platform', 'spread', 'the log costs'],
        results.flatMap((r) =>
          [r.logged, r.silent].map((s) => [
            r.mode,
            s.level,
            fmt(s.rate),
            fmt(s.usPerRequest, 1),
            s.platforms.map((x) => fmt(x, 1)).join(', '),
            `${fmt(s.spread * 100, 1)}%`,
            s === r.logged ? `${fmt(r.cost * 100, 1)}%` : '',
          ]),
        ),
        2,
      ),
    )
    console.log(
      `the writer alone (${WRITER_LINES} request lines into a file, median of 3): ${fmt(perLine.ours, 2)} µs CPU per line; ` +
        `pino.destination (sonic-boom) ${fmt(perLine.pino, 2)}: ${fmt(perLine.ours / perLine.pino, 2)}x`,
    )
    const noise = Math.max(results[0]!.logged.spread, results[0]!.silent.spread)
    console.log(
      `at the scenario's rate the request log costs ${fmt(cost * 100, 1)}% of the platform's CPU (target < ${TARGET * 100}%): ` +
        `${verdict}; platforms of one level differ by up to ${fmt(noise * 100, 1)}%`,
    )
  }
})
