/**
 * The contract's load-test scenario at scale: --users virtual users (agent, goal and task users
 * 5:3:2, the contract's task weights, payloads and think time of 1-3 s), spawned at --spawn-rate
 * per s, for --seconds, through the product's own runner (`runLoad`: the generator in its worker
 * thread of this process, HDR statistics, run validity) against the embedded platform in a child
 * process (the built `bin/run.js up`, its default topology) on its embedded PostgreSQL. Reports total
 * requests, req/s, errors, p50/p95/p99 in total and per endpoint, the worst endpoint's p95, the
 * run's validity, and the verdict against the targets: 0 errors and p95 < 100 ms (in total). The
 * failure groups print when there are any. Exit 1 only when the run failed (the platform died, the
 * runner threw); figures below a target are figures.
 *
 *   node --import tsx bench/scenario.ts [--users 2000] [--spawn-rate 200] [--seconds 60] [--workers 1] [--seed 1] [--json]
 */
import {contractScenario, effectiveThresholds, preflight, runLoad, type Summary} from '../src/loadtest/index.js'
import {
  DEFAULT_TOPOLOGY,
  benchArgs,
  fmt,
  loadavg,
  log,
  postmasterPid,
  processTreeRss,
  runBench,
  startPlatformChild,
  startPlatformOnPostgres,
  table,
} from './lib.js'

const TARGETS = {errors: 0, p95Ms: 100} as const
const args = benchArgs(
  {users: 2000, 'spawn-rate': 200, seconds: 60, workers: 1, seed: 1, pglite: 0},
  {fractional: ['spawn-rate', 'seconds'], zero: ['seed', 'pglite']},
)
const engine = args.pglite ? 'PGlite' : 'the embedded PostgreSQL'

const pct = (x: number) => `${fmt(x * 100, 2)}%`

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  log(`loadavg ${load.before}`)
  // As a user starts it: `platform up` with its default log level (one line per request to .platform/platform.log).
  const platform = args.pglite
    ? await startPlatformChild({topology: DEFAULT_TOPOLOGY, logLevel: 'info', args: ['--db', 'pglite']})
    : (await startPlatformOnPostgres({logLevel: 'info'})).platform
  await preflight(platform.l09, platform.apiKey)

  log(
    `scenario: ${args.users} users at ${args['spawn-rate']}/s for ${args.seconds} s, ${args.workers} generator thread(s), ` +
      `seed ${args.seed}`,
  )
  let died: string | undefined
  const s: Summary = await runLoad({
    target: platform.l09,
    apiKey: platform.apiKey,
    profile: {name: 'bench-scenario', users: args.users, spawnRate: args['spawn-rate'], durationS: args.seconds},
    scenario: contractScenario,
    seed: args.seed,
    // The contract's own thresholds, for the runner's verdict; the benchmark's targets are judged below.
    thresholds: effectiveThresholds([]),
    workers: args.workers,
    intervalS: 5,
    onPoint: (p) => {
      died ??= platform.exited()
      log(
        `  ${fmt(p.t, 1).padStart(5)} s  users ${String(p.users).padStart(5)}  ${fmt(p.rps).padStart(5)} req/s  p50 ` +
          `${fmt(p.p50 ?? NaN, 1)} ms  p95 ${fmt(p.p95 ?? NaN, 1)} ms  p99 ${fmt(p.p99 ?? NaN, 1)} ms  errors ${p.errors}`,
      )
    },
  })
  load.after = loadavg()
  died ??= platform.exited()
  if (died) throw new Error(`the platform ${died}`)
  const postmaster = args.pglite ? undefined : postmasterPid(platform.stateDir)
  const rss = [...processTreeRss(platform.pid), ...(postmaster ? processTreeRss(postmaster) : [])]
  const rssTotal = Math.round(rss.reduce((n, p) => n + p.rssMb, 0))

  const t = s.total
  const worst = [...s.endpoints].sort((a, b) => b.p95 - a.p95)[0]
  const met = t.failures <= TARGETS.errors && t.p95 < TARGETS.p95Ms
  const verdict = !s.validity.valid ? 'INVALID' : met ? 'PASS' : 'BELOW TARGET'
  const why =
    `errors ${t.failures} (target ${TARGETS.errors}), p95 ${fmt(t.p95, 1)} ms (target < ${TARGETS.p95Ms} ` +
    `ms)${s.validity.valid ? '' : `; the generator was the bottleneck: ${s.validity.reasons.join('; ')}`}`
  const validity =
    `${s.validity.valid ? 'VALID' : 'INVALID'} (loop ${Math.round(s.validity.utilisation * 100)}% busy, ` +
    `lag p99 ${s.validity.eventLoopLagP99Ms} ms, late ${s.validity.lateSends}/${s.validity.sends})`

  if (args.json) {
    const doc = {
      benchmark: 'scenario',
      database: args.pglite ? 'pglite' : 'embedded postgresql',
      rss: {totalMb: rssTotal, processes: rss},
      topology: DEFAULT_TOPOLOGY,
      options: args,
      loadavg: load,
      duration: s.duration,
      total: t,
      worstEndpoint: worst ? {endpoint: worst.endpoint, p95: worst.p95} : null,
      endpoints: s.endpoints,
      validity: s.validity,
      failures: s.failures,
      targets: TARGETS,
      verdict,
      runnerVerdict: s.verdict.sentence,
    }
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`)
  } else {
    console.log(
      `the contract's scenario: ${args.users} users (spawn ${args['spawn-rate']}/s, think 1-3 s), ${s.duration} s, ` +
        `embedded platform (${DEFAULT_TOPOLOGY}) on ${engine}; loadavg ${load.before} -> ${load.after}`,
    )
    console.log(
      table(
        ['requests', 'req/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'worst p95', 'validity'],
        [
          [
            t.count,
            fmt(t.rps),
            t.failures,
            fmt(t.p50, 1),
            fmt(t.p95, 1),
            fmt(t.p99, 1),
            fmt(t.max, 1),
            worst ? `${fmt(worst.p95, 1)} ms ${worst.endpoint}` : '-',
            validity,
          ],
        ],
        0,
      ),
    )
    console.log('')
    console.log(
      table(
        ['endpoint', 'requests', 'req/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        s.endpoints.map((e) => [
          e.endpoint,
          e.count,
          fmt(e.rps, 1),
          e.failures,
          fmt(e.p50, 1),
          fmt(e.p95, 1),
          fmt(e.p99, 1),
          fmt(e.max, 1),
        ]),
      ),
    )
    if (s.failures.length) {
      console.log('')
      console.log(`failure groups (${s.failures.length}; the 10 largest):`)
      for (const g of s.failures.slice(0, 10)) {
        console.log(
          `  ${g.count} x ${g.endpoint} -> ${g.status ?? 'no answer'}: ${g.message} (first at ${g.firstSeen.t} s, ` +
            `${g.firstSeen.users} users; e.g. ${g.sample.request.method} ${g.sample.request.url})`,
        )
      }
    }
    console.log('')
    console.log(
      `RSS after the run: ${rssTotal} MB in ${rss.length} processes (${rss
        .slice(0, 4)
        .map((p) => `${p.command} ${p.rssMb}`)
        .join(', ')}${rss.length > 4 ? ', ...' : ''})`,
    )
    console.log(
      `runner's verdict on the contract's thresholds (p95 <= 500 ms, errors < 1%): ${s.verdict.sentence}; error rate ${pct(t.errorRate)}`,
    )
    console.log(`verdict: ${verdict}: ${why}`)
  }
})
