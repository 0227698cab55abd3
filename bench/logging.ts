/**
 * What the one-line-per-request log costs: CPU per request of the platform process (L01 and
 * L09 in their threads, from /proc/PID/stat), with the default log level (info: each service
 * appends a line per request to .platform/platform.log) against the same platform with
 * `--log-level silent`, for `GET /api/v1/agents/:id` through L09. Measured at the scenario's
 * rate (`--rate`, about what the contract's scenario sends at 2,000 users: the target's
 * figure) and flat out at equal concurrency (for reference: there the CPU per request also
 * moves with how busy the 2 cores are). Two platforms as `up` starts them, sides alternating,
 * medians compared. Before the first round each side serves `--warmup` seconds at each rate,
 * unmeasured: V8 compiling both services is a one-off cost, not the log's. Target: at the
 * scenario's rate the log costs under 5% of the platform's CPU. Reports; exit 1 only when the
 * run failed.
 *
 *   node --import tsx bench/logging.ts [--seconds 5] [--rounds 5] [--concurrency 8] [--rate 900] [--warmup 10] [--json]
 */
import {readFileSync} from 'node:fs'
import type {Pool} from 'undici'
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
  timedLoop,
  within,
  type PlatformChild,
} from './lib.js'

const TARGET = 0.05
const args = benchArgs({seconds: 5, rounds: 5, concurrency: 8, rate: 900, warmup: 10}, {fractional: ['seconds'], zero: ['warmup']})
const MODES = [
  {name: `at ${args.rate} req/s`, rate: args.rate},
  {name: 'flat out', rate: undefined},
] as const

interface Side {
  level: 'info' | 'silent'
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

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const sides: Side[] = []
  for (const level of ['info', 'silent'] as const) {
    const {platform} = await startPlatformOnPostgres({logLevel: level})
    const http = pool(platform.l09, args.concurrency)
    const headers = {'x-api-key': platform.apiKey, 'content-type': 'application/json'}
    const created = await send(http, {method: 'POST', path: '/api/v1/agents/', headers, body: {name: 'logged'}})
    if (created.status !== 201) throw new Error(`creating the agent: HTTP ${created.status}`)
    const id = (JSON.parse(created.text) as {id: string}).id
    const runs = MODES.map(() => ({usPerRequest: [] as number[], rates: [] as number[]}))
    sides.push({level, platform, http, path: `/api/v1/agents/${id}`, headers, runs})
  }
  const userOf = (side: Side) => () => async () => {
    const r = await send(side.http, {method: 'GET', path: side.path, headers: side.headers})
    return r.status === 200 || `HTTP ${r.status}`
  }
  if (args.warmup) {
    log(`warming up: ${args.warmup} s per side and rate`)
    for (const mode of MODES) {
      for (const side of sides) await timedLoop({seconds: args.warmup, concurrency: args.concurrency, user: userOf(side), rate: mode.rate})
    }
  }
  for (let round = 1; round <= args.rounds; round++) {
    for (const [m, mode] of MODES.entries()) {
      for (const side of sides) {
        const user = userOf(side)
        await timedLoop({seconds: 1, concurrency: args.concurrency, user, rate: mode.rate})
        const cpu0 = cpuSeconds(side.platform.pid)
        const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user, rate: mode.rate})
        const cpu = cpuSeconds(side.platform.pid) - cpu0
        if (run.errors) throw new Error(`${run.errors} requests failed (${run.firstError})`)
        const us = (cpu * 1e6) / run.ok
        side.runs[m]!.usPerRequest.push(us)
        side.runs[m]!.rates.push(run.rate)
        const what = `round ${round} ${mode.name.padEnd(14)} ${side.level.padEnd(6)}`
        log(`${what} ${fmt(run.rate).padStart(6)} req/s  ${fmt(us, 1)} µs CPU per request`)
      }
    }
  }
  for (const side of sides) await within(side.http.close(), 5000)
  load.after = loadavg()
  const results = MODES.map((mode, m) => {
    const [logged, silent] = sides.map((s) => ({
      level: s.level,
      usPerRequest: median(s.runs[m]!.usPerRequest),
      rate: median(s.runs[m]!.rates),
    }))
    return {
      mode: mode.name,
      rate: mode.rate ?? null,
      logged: logged!,
      silent: silent!,
      cost: (logged!.usPerRequest - silent!.usPerRequest) / logged!.usPerRequest,
    }
  })
  const cost = results[0]!.cost
  const verdict = cost < TARGET ? 'PASS' : 'BELOW TARGET'
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({benchmark: 'logging', loadavg: load, options: args, results, cost, target: TARGET, verdict}, null, 2)}\n`,
    )
  } else {
    console.log(
      `GET /api/v1/agents/:id through L09, concurrency ${args.concurrency}, ` +
        `${args.rounds} x ${args.seconds} s per side and rate (medians); ` +
        `loadavg ${load.before} -> ${load.after}`,
    )
    console.log(
      table(
        ['rate', 'log level', 'req/s', 'µs CPU per request (platform process)', 'the log costs'],
        results.flatMap((r) =>
          [r.logged, r.silent].map((s) => [
            r.mode,
            s.level,
            fmt(s.rate),
            fmt(s.usPerRequest, 1),
            s === r.logged ? `${fmt(r.cost * 100, 1)}%` : '',
          ]),
        ),
        2,
      ),
    )
    console.log(
      `at the scenario's rate the request log costs ${fmt(cost * 100, 1)}% of the platform's CPU (target < ${TARGET * 100}%): ${verdict}`,
    )
  }
})
