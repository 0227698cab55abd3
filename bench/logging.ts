/**
 * What the one-line-per-request log costs: CPU per request of the platform process (L01 and
 * L09 in their threads, from /proc/PID/stat), with the default log level (info: each service
 * appends a line per request to .platform/platform.log) against the same platform with
 * `--log-level silent`, for `GET /api/v1/agents/:id` through L09 at equal concurrency. Two
 * platforms as `up` starts them, sides alternating, medians compared. Target: the log costs
 * under 5% of the platform's CPU. Reports; exit 1 only when the run failed.
 *
 *   node --import tsx bench/logging.ts [--seconds 5] [--rounds 3] [--concurrency 8] [--json]
 */
import {readFileSync} from 'node:fs'
import {benchArgs, fmt, loadavg, log, median, pool, runBench, send, startPlatformOnPostgres, table, timedLoop, within} from './lib.js'

const TARGET = 0.05
const args = benchArgs({seconds: 5, rounds: 3, concurrency: 8}, {fractional: ['seconds']})

/** CPU seconds (user + system) a process has used, all its threads together. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (100 Hz)
}

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const sides = []
  for (const level of ['info', 'silent'] as const) {
    const {platform} = await startPlatformOnPostgres({logLevel: level})
    const http = pool(platform.l09, args.concurrency)
    const headers = {'x-api-key': platform.apiKey, 'content-type': 'application/json'}
    const created = await send(http, {method: 'POST', path: '/api/v1/agents/', headers, body: {name: 'logged'}})
    if (created.status !== 201) throw new Error(`creating the agent: HTTP ${created.status}`)
    const id = (JSON.parse(created.text) as {id: string}).id
    sides.push({level, platform, http, path: `/api/v1/agents/${id}`, headers, usPerRequest: [] as number[], rates: [] as number[]})
  }
  for (let round = 1; round <= args.rounds; round++) {
    for (const side of sides) {
      const user = () => async () => {
        const r = await send(side.http, {method: 'GET', path: side.path, headers: side.headers})
        return r.status === 200 || `HTTP ${r.status}`
      }
      await timedLoop({seconds: 1, concurrency: args.concurrency, user})
      const cpu0 = cpuSeconds(side.platform.pid)
      const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user})
      const cpu = cpuSeconds(side.platform.pid) - cpu0
      if (run.errors) throw new Error(`${run.errors} requests failed (${run.firstError})`)
      side.usPerRequest.push((cpu * 1e6) / run.ok)
      side.rates.push(run.rate)
      log(`round ${round} ${side.level.padEnd(6)} ${fmt(run.rate).padStart(6)} req/s  ${fmt((cpu * 1e6) / run.ok, 1)} µs CPU per request`)
    }
  }
  for (const side of sides) await within(side.http.close(), 5000)
  load.after = loadavg()
  const [logged, silent] = sides.map((s) => ({level: s.level, usPerRequest: median(s.usPerRequest), rate: median(s.rates)}))
  const cost = (logged!.usPerRequest - silent!.usPerRequest) / logged!.usPerRequest
  const verdict = cost < TARGET ? 'PASS' : 'BELOW TARGET'
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({benchmark: 'logging', loadavg: load, options: args, logged, silent, cost, target: TARGET, verdict}, null, 2)}\n`,
    )
  } else {
    console.log(
      `GET /api/v1/agents/:id through L09, concurrency ${args.concurrency}, ${args.rounds} x ${args.seconds} s per side (medians); ` +
        `loadavg ${load.before} -> ${load.after}`,
    )
    console.log(
      table(
        ['log level', 'req/s', 'µs CPU per request (platform process)'],
        [logged!, silent!].map((s) => [s.level, fmt(s.rate), fmt(s.usPerRequest, 1)]),
      ),
    )
    console.log(`the request log costs ${fmt(cost * 100, 1)}% of the platform's CPU (target < ${TARGET * 100}%): ${verdict}`)
  }
})
