/**
 * The contract's endurance profile (100 users, 10 spawned per s, 30 min; agent, goal and task
 * users 5:3:2 with their think time) through the product's runner against the platform as
 * `platform up` starts it by default (the built CLI, its default topology, its embedded
 * PostgreSQL) in a child process. Every --sample-s seconds (30) the RSS of every process of
 * the platform is read from /proc: the CLI's own process with its descendants, and the
 * PostgreSQL postmaster with its backends. Reports errors, latency and, per process and in
 * total, RSS after the first --settle-min minutes (5) against the end, each the median of a window
 * of --window samples (5), with each process's shared memory (PostgreSQL's shared buffers) as a
 * row of its own. Targets: 0 errors, and growth after the settling under 10% of the memory that
 * could leak: all but the shared memory, which fills as the run's data grows, up to the fixed size
 * of the segment (the total's growth is printed beside it). Exit 1 only when the run failed;
 * figures below a target are figures.
 *
 *   node --import tsx bench/endurance.ts [--minutes 30] [--sample-s 30] [--settle-min 5] [--window 5] [--seed 1] [--json]
 */
import {DEFAULT_TOPOLOGY} from '../src/embedded/index.js'
import {PROFILES, contractScenario, effectiveThresholds, preflight, runLoad, type Summary} from '../src/loadtest/index.js'
import {benchArgs, fmt, loadavg, log, median, postmasterPid, processTreeRss, runBench, startPlatformChild, table} from './lib.js'

const TARGETS = {errors: 0, rssGrowth: 0.1} as const
/** A process's shared memory, as a row of its own: PostgreSQL's shared buffers fill as the run's data grows, up to their fixed size. */
const SHARED = ' shared memory'
const args = benchArgs(
  {minutes: 30, 'sample-s': 30, 'settle-min': 5, window: 5, seed: 1},
  {
    fractional: ['minutes', 'sample-s', 'settle-min'],
    zero: ['seed'],
  },
)

const postmaster = (stateDir: string): number | undefined => {
  try {
    return postmasterPid(stateDir)
  } catch {
    return undefined // not written yet, or the cluster is gone
  }
}

interface Sample {
  t: number
  /** RSS in MiB of each process, keyed `name pid`; a process's shared memory is a row of its own (SHARED). */
  rss: Record<string, number>
  /** Of that, the shared memory in MiB, all processes together. */
  shared: number
  /** Each service's V8 heap in MiB (its thread's own isolate), from its /metrics: what of the node process's RSS it explains. */
  heaps: Record<string, Heap>
}

const HEAP_METRICS = {total: 'nodejs_heap_size_total_bytes', used: 'nodejs_heap_size_used_bytes', external: 'nodejs_external_memory_bytes'}
type Heap = Record<keyof typeof HEAP_METRICS, number>

/** A service's heap figures from its /metrics (prom-client's default metrics), in MiB; undefined when it does not answer. */
async function heapOf(url: string): Promise<Heap | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`, {signal: AbortSignal.timeout(2000)})).text()
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20
    return {total: value(HEAP_METRICS.total), used: value(HEAP_METRICS.used), external: value(HEAP_METRICS.external)}
  } catch {
    return undefined
  }
}

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  log(`loadavg ${load.before}`)
  log(`starting the platform as \`platform up\` starts it (topology ${DEFAULT_TOPOLOGY}, embedded PostgreSQL) in a child process`)
  // With up's default log level: one line per request to .platform/platform.log, as a user runs it.
  const platform = await startPlatformChild({topology: DEFAULT_TOPOLOGY, logLevel: 'info'})
  await preflight(platform.l09, platform.apiKey)

  const samples: Sample[] = []
  const started = performance.now()
  const sample = async () => {
    const rss: Record<string, number> = {}
    let shared = 0
    const t = (performance.now() - started) / 1000
    // The postmaster runs detached (to outlive a crash of up), so it is no descendant of the CLI's process.
    const roots = [platform.pid, postmaster(platform.stateDir)].filter((p): p is number => p !== undefined)
    for (const p of roots.flatMap(processTreeRss)) {
      rss[`${p.command} ${p.pid}`] = p.rssMb - p.shmemMb
      if (p.shmemMb > 0) rss[`${p.command}${SHARED} ${p.pid}`] = p.shmemMb
      shared += p.shmemMb
    }
    const heaps: Record<string, Heap> = {}
    for (const [name, url] of [
      ['l01', platform.l01],
      ['l09', platform.l09],
    ] as const) {
      const h = await heapOf(url)
      if (h) heaps[name] = h
    }
    samples.push({t, rss, shared, heaps})
  }
  await sample()
  const timer = setInterval(sample, args['sample-s'] * 1000)

  const profile = {...PROFILES.endurance, durationS: Math.round(args.minutes * 60)}
  log(`endurance: ${profile.users} users at ${profile.spawnRate}/s for ${args.minutes} min, RSS every ${args['sample-s']} s`)
  let died: string | undefined
  let s: Summary
  try {
    s = await runLoad({
      target: platform.l09,
      apiKey: platform.apiKey,
      profile,
      scenario: contractScenario,
      seed: args.seed,
      thresholds: effectiveThresholds([]),
      workers: 1,
      intervalS: args['sample-s'],
      onPoint: (p) => {
        died ??= platform.exited()
        const [rss, p95] = [fmt(totalOf(samples.at(-1)!)), fmt(p.p95 ?? Number.NaN, 1)]
        log(`  ${fmt(p.t, 0).padStart(5)} s  ${fmt(p.rps).padStart(5)} req/s  p95 ${p95} ms  errors ${p.errors}  rss ${rss} MiB`)
      },
    })
  } finally {
    clearInterval(timer)
  }
  await sample()
  load.after = loadavg()
  died ??= platform.exited()
  if (died) throw new Error(`the platform ${died}`)

  // Memory swings by a tenth between two samples as the heaps collect, so the growth is
  // measured between two windows of --window samples, by their medians: the first window
  // starts when the settling ends, the second closes the run.
  const settle = args['settle-min'] * 60
  const settledFrom = samples.findIndex((x) => x.t >= settle)
  const refWindow = samples.slice(settledFrom, settledFrom + args.window)
  const endWindow = samples.slice(-args.window)
  if (settledFrom < 0 || settledFrom + args.window > samples.length - args.window) {
    throw new Error(`the run is too short for two windows of ${args.window} samples after ${args['settle-min']} min`)
  }
  // Backends come and go with the pool: processes are summed by name (node, postgres).
  const byName = (x: Sample) => {
    const sums: Record<string, {mib: number; count: number}> = {}
    for (const [key, mib] of Object.entries(x.rss)) {
      const name = key.slice(0, key.lastIndexOf(' '))
      const e = (sums[name] ??= {mib: 0, count: 0})
      e.mib += mib
      e.count++
    }
    return sums
  }
  const medianOf = (w: Sample[], name: string) => median(w.map((x) => byName(x)[name]?.mib ?? 0))
  const first = byName(samples[0]!)
  const end = byName(samples.at(-1)!)
  const names = [...new Set(samples.flatMap((x) => Object.keys(byName(x))))]
  const growth = (a: number, b: number) => (a > 0 ? (b - a) / a : Number.NaN)
  const rows = names.map((n) => ({
    process: n,
    count: end[n]?.count ?? 0,
    first: first[n]?.mib,
    ref: medianOf(refWindow, n),
    last: medianOf(endWindow, n),
  }))
  const total = {first: totalOf(samples[0]!), ref: median(refWindow.map(totalOf)), last: median(endWindow.map(totalOf))}
  // What could leak: the total but the shared memory, whose resident part is bounded by the segment's fixed size.
  const ownOf = (x: Sample) => totalOf(x) - x.shared
  const own = {ref: median(refWindow.map(ownOf)), last: median(endWindow.map(ownOf))}
  const ownGrowth = growth(own.ref, own.last)
  const range = (w: Sample[]) => `${fmt(w[0]!.t)}-${fmt(w.at(-1)!.t)} s`
  const totalGrowth = growth(total.ref, total.last)
  const t = s.total
  const met = t.failures <= TARGETS.errors && ownGrowth < TARGETS.rssGrowth
  const verdict = !s.validity.valid ? 'INVALID' : met ? 'PASS' : 'BELOW TARGET'

  if (args.json) {
    const run = {benchmark: 'endurance', topology: DEFAULT_TOPOLOGY, options: args, loadavg: load, duration: s.duration}
    const windows = {settled: range(refWindow), end: range(endWindow), samples: args.window}
    const rss = {windows, total, totalGrowth, withoutSharedMemory: own, growthWithoutSharedMemory: ownGrowth, processes: rows, samples}
    const doc = {...run, total: t, endpoints: s.endpoints, rss, validity: s.validity, failures: s.failures, targets: TARGETS, verdict}
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`)
    return
  }
  const mib = (x: number | undefined) => (x === undefined ? '-' : fmt(x, 1))
  const pct = (x: number) => (Number.isFinite(x) ? `${fmt(x * 100, 1)}%` : '-')
  const what = `${profile.users} users (spawn ${profile.spawnRate}/s, think 1-3 s), ${s.duration} s, \`platform up\` (${DEFAULT_TOPOLOGY})`
  console.log(`endurance: ${what}; loadavg ${load.before} -> ${load.after}`)
  console.log(
    table(
      ['requests', 'req/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
      [[t.count, fmt(t.rps), t.failures, fmt(t.p50, 1), fmt(t.p95, 1), fmt(t.p99, 1), fmt(t.max, 1)]],
    ),
  )
  console.log(
    `\nRSS (MiB) at the start, then the medians of ${args.window} samples after settling (${range(refWindow)}) and at the end ` +
      `(${range(endWindow)}), with the growth between them:`,
  )
  const body = rows.map((r) => [r.process, r.count, mib(r.first), mib(r.ref), mib(r.last), pct(growth(r.ref ?? 0, r.last ?? 0))])
  const sum = [
    'total',
    rows.reduce((n, r) => n + (r.process.endsWith(SHARED) ? 0 : r.count), 0),
    mib(total.first),
    mib(total.ref),
    mib(total.last),
    pct(totalGrowth),
  ]
  const ownRow = ['total but shared memory', '', '', mib(own.ref), mib(own.last), pct(ownGrowth)]
  console.log(table(['process', 'count', 'start', 'settled', 'end', 'growth'], [...body, sum, ownRow]))
  const heapRows = (['l01', 'l09'] as const).flatMap((svc) =>
    (Object.keys(HEAP_METRICS) as Array<keyof Heap>).map((k) => {
      const of = (w: Sample[]) => median(w.map((x) => x.heaps[svc]?.[k] ?? Number.NaN).filter(Number.isFinite))
      return [`${svc} heap ${k}`, mib(of(refWindow)), mib(of(endWindow)), pct(growth(of(refWindow), of(endWindow)))]
    }),
  )
  console.log(`\nThe services' V8 heaps (MiB, from their /metrics; each its own thread's isolate), same windows:`)
  console.log(table(['heap', 'settled', 'end', 'growth'], heapRows))
  const target = `target < ${pct(TARGETS.rssGrowth)}`
  const rssVerdict = `RSS growth after settling but shared memory ${pct(ownGrowth)} (${target}), with it ${pct(totalGrowth)}`
  console.log(`\n${verdict}: errors ${t.failures} (target ${TARGETS.errors}), ${rssVerdict}`)
})

function totalOf(x: Sample): number {
  return Object.values(x.rss).reduce((a, b) => a + b, 0)
}
