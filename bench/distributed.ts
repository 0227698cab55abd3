/**
 * Distributed load through the product's own path: `runLoad` in this process as the coordinator
 * (src/loadtest/coordinator.ts), its generators `bin/run.js test generator` processes started by
 * `processLauncher`, exactly what `platform test load --generators N` runs. Against small
 * node:http servers in other processes (bench/lib.ts startServer). Two measurements, rounds
 * alternating 1 generator and 2 generators:
 *
 * - accuracy: the open model at --rate req/s for --seconds against a server that answers every
 *   request 20 ms after it arrived. Checks that the merged count equals the sum of the
 *   generators' own counts, and reports the merged p50 and p99 with 2 generators as a ratio to
 *   those with 1 generator at the same total rate (medians over the rounds). Target: within 5%.
 *   Also against 1 generator of 2 threads, which sends from as many threads as 2 generators do:
 *   on a machine of few cores more sending threads alone lengthen the tail.
 * - capacity: the open model stepped up in rate (from --start-rate, x1.3, --step-seconds a step)
 *   against the 0 ms server until the run is INVALID (the validity watch of any generator fired:
 *   event-loop lag, busy loop, late sends), it achieves < 90% of its rate, or --max-steps. The
 *   figure is the best req/s of a VALID step, per setup: how much load each reached before its
 *   validity watch fired.
 *
 * Run `npm run build` first (the generators are the built CLI). On a machine of 2 cores the
 * coordinator, the server and the generators share them; on several machines (--swarm) each
 * generator has its own. Exit 1 only when a run failed (a server died, the counts did not add
 * up, a run threw); figures below a target are figures.
 *
 *   node --import tsx bench/distributed.ts [--rounds 3] [--rate 400] [--seconds 20] [--start-rate 1000]
 *     [--step-seconds 5] [--max-steps 10] [--json]
 */
import {contractScenario as scenario, distributedFleet, processLauncher, runLoad, type Summary} from '../src/loadtest/index.js'
import {benchArgs, fmt, loadavg, log, median, runBench, startServer, table, type Server} from './lib.js'

const TARGET = {tolerance: 0.05} as const
const args = benchArgs(
  {rounds: 3, rate: 400, seconds: 20, 'start-rate': 1000, 'step-seconds': 5, 'max-steps': 10},
  {fractional: ['seconds', 'step-seconds']},
)
const STEP = 1.3
const API_KEY = 'bench-distributed-key'

/** One run of `generators` generator processes (of `workers` threads each) at `rate` for `seconds`. */
async function run(server: Server, generators: number, rate: number, seconds: number, workers = 1): Promise<Summary> {
  const d = await distributedFleet({generators, address: '127.0.0.1', intervalS: 1, launcher: processLauncher(), log: () => {}})
  try {
    const s = await runLoad({
      target: server.url,
      apiKey: API_KEY,
      profile: {name: `bench-distributed-${generators}`, users: 1, spawnRate: 1, durationS: seconds},
      scenario,
      seed: 1,
      thresholds: [],
      rate,
      workers,
      intervalS: 1,
      fleet: d.fleet,
    })
    const sum = s.generators!.reduce((n, g) => n + g.count, 0)
    if (sum !== s.total.count) throw new Error(`the merged count ${s.total.count} is not the generators' sum ${sum}`)
    const why = server.exited()
    if (why) throw new Error(why)
    return s
  } finally {
    await d.close()
  }
}

interface Step {
  rate: number
  rps: number
  valid: boolean
  validity: string
  errors: number
}

/** Steps the rate up until the run is invalid, falls short, or the steps run out; the best valid req/s. */
async function capacity(server: Server, generators: number): Promise<{best?: Step; steps: Step[]; stopped: string}> {
  const steps: Step[] = []
  let rate = args['start-rate']
  for (let i = 0; i < args['max-steps']; i++, rate = Math.round(rate * STEP)) {
    const s = await run(server, generators, rate, args['step-seconds'])
    const step = {
      rate,
      rps: s.total.rps,
      valid: s.validity.valid,
      validity: s.validity.valid ? 'valid' : `INVALID: ${s.validity.reasons.join('; ')}`,
      errors: s.total.failures,
    }
    steps.push(step)
    log(`    ${generators} generator(s) at ${rate}/s: ${fmt(step.rps)} req/s, ${step.validity}`)
    if (!step.valid) return {best: bestOf(steps), steps, stopped: `invalid at ${rate}/s`}
    if (step.rps < rate * 0.9) return {best: bestOf(steps), steps, stopped: `reached ${fmt((step.rps / rate) * 100)}% of ${rate}/s`}
  }
  return {best: bestOf(steps), steps, stopped: `${args['max-steps']} steps`}
}
const bestOf = (steps: Step[]) => steps.filter((s) => s.valid).sort((a, b) => b.rps - a.rps)[0]

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const slow = await startServer('20 ms', 20)
  const fast = await startServer('0 ms', 0)
  log(`servers: 20 ms at ${slow.url}, 0 ms at ${fast.url}; loadavg ${load.before}`)

  // 1 generator of 2 threads sends as many threads as 2 generators of 1: what thread count alone costs on this machine.
  const setups = [
    {generators: 1, workers: 1, label: '1 generator'},
    {generators: 2, workers: 1, label: '2 generators'},
    {generators: 1, workers: 2, label: '1 generator, 2 threads'},
  ] as const
  type Row = {round: number; setup: string; count: number; counts: number[]; p50: number; p99: number; valid: boolean}
  const accuracy: Row[] = []
  const reached: Array<{round: number; generators: number; best?: Step; stopped: string}> = []
  for (let round = 1; round <= args.rounds; round++) {
    // The order turns each round, so that no setup always runs first (or last) on a machine that warms up.
    for (let k = 0; k < setups.length; k++) {
      const setup = setups[(k + round - 1) % setups.length]!
      const s = await run(slow, setup.generators, args.rate, args.seconds, setup.workers)
      const row = {
        round,
        setup: setup.label,
        count: s.total.count,
        counts: s.generators!.map((g) => g.count),
        p50: s.total.p50,
        p99: s.total.p99,
        valid: s.validity.valid,
      }
      accuracy.push(row)
      log(`  round ${round}, ${setup.label}: ${row.count} requests (${row.counts.join(' + ')}), p50 ${row.p50} ms, p99 ${row.p99} ms`)
    }
    for (const generators of [1, 2]) {
      log(`  round ${round}, capacity of ${generators} generator(s) from ${args['start-rate']}/s`)
      const c = await capacity(fast, generators)
      reached.push({round, generators, best: c.best, stopped: c.stopped})
    }
  }
  load.after = loadavg()

  const med = (setup: string, f: (r: Row) => number) => median(accuracy.filter((r) => r.setup === setup).map(f))
  const ratio = (a: string, b: string, f: (r: Row) => number) => med(a, f) / med(b, f)
  const p50Ratio = ratio('2 generators', '1 generator', (r) => r.p50)
  const p99Ratio = ratio('2 generators', '1 generator', (r) => r.p99)
  const sameThreads = {
    p50Ratio: ratio('2 generators', '1 generator, 2 threads', (r) => r.p50),
    p99Ratio: ratio('2 generators', '1 generator, 2 threads', (r) => r.p99),
  }
  const within = (x: number) => Math.abs(x - 1) <= TARGET.tolerance
  const verdict = within(p50Ratio) && within(p99Ratio) ? 'PASS' : 'OUTSIDE TARGET'
  const best = (g: number) => median(reached.filter((r) => r.generators === g && r.best).map((r) => r.best!.rps))

  if (args.json) {
    const doc = {
      benchmark: 'distributed',
      options: args,
      loadavg: load,
      accuracy,
      p50Ratio,
      p99Ratio,
      sameThreads,
      verdict,
      capacity: reached,
    }
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`)
    return
  }
  console.log(
    `distributed load: 1 vs 2 generator processes (bin/run.js test generator), one coordinator; loadavg ${load.before} -> ${load.after}`,
  )
  console.log('')
  console.log(
    `accuracy: open model at ${args.rate} req/s for ${args.seconds} s against the 20 ms server (medians of ${args.rounds} rounds)`,
  )
  console.log(
    table(
      ['setup', 'requests', 'per generator', 'p50 ms', 'p99 ms'],
      setups.map(({label}) => [
        label,
        fmt(med(label, (r) => r.count)),
        accuracy.find((r) => r.setup === label)!.counts.join(' + '),
        fmt(
          med(label, (r) => r.p50),
          3,
        ),
        fmt(
          med(label, (r) => r.p99),
          3,
        ),
      ]),
    ),
  )
  console.log(
    `verdict: ${verdict}: with 2 generators p50 x${fmt(p50Ratio, 3)}, p99 x${fmt(p99Ratio, 3)} of 1 generator's at the same total ` +
      `rate (target within ${TARGET.tolerance * 100}%); against 1 generator of 2 threads (as many sending threads) p50 ` +
      `x${fmt(sameThreads.p50Ratio, 3)}, p99 x${fmt(sameThreads.p99Ratio, 3)}; every merged count was the sum of its generators' counts`,
  )
  console.log('')
  console.log(`capacity: the best valid req/s before the validity watch fired (0 ms server, x${STEP} steps of ${args['step-seconds']} s)`)
  console.log(
    table(
      ['generators', 'best valid req/s (median)', 'per round', 'stopped'],
      [1, 2].map((g) => {
        const rs = reached.filter((r) => r.generators === g)
        return [g, fmt(best(g)), rs.map((r) => fmt(r.best?.rps ?? Number.NaN)).join(', '), rs.map((r) => r.stopped).join('; ')]
      }),
      0,
    ),
  )
  console.log(`2 generators / 1 generator: x${fmt(best(2) / best(1), 2)} on this machine`)
})
