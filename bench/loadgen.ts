/**
 * The load generator itself: `runLoad` (src/loadtest, its generator in a worker thread of this
 * process) against small HTTP servers in OTHER processes (`node -e` with node:http on 127.0.0.1,
 * answering the /api/v1 routes of the scenario with tiny fixed JSON bodies: 201 with
 * {id, goal_id, task_id} for a POST, 200 {} otherwise). Three measurements, in this order:
 *
 * - memory: --users virtual users (closed model, the contract's think time 1-3 s, spawned at
 *   --spawn-rate per s) for --memory-seconds against the 0 ms server. The generator is a worker
 *   thread of this process, so this process's RSS is sampled every 250 ms; the figure is the peak
 *   less the RSS just before the run. It runs first, while no earlier run has grown the heap.
 *   Target < 300 MB.
 * - accuracy: the open model at --accuracy-rate req/s for --accuracy-seconds against a server that
 *   answers every request exactly 20 ms after it arrived (a timer for 19 ms, then polling until
 *   20.0 ms), and the same against the 0 ms server, whose latency is the fixed overhead (loopback,
 *   HTTP parsing on both sides, the generator's timer wake-ups). Each is followed by a bare undici
 *   client in this process's main thread on the same schedule: what this machine costs without the
 *   runner. Target: p50 and p99 within 10% of 20 ms, i.e. in [20, 22] ms.
 * - throughput: per round, the open model stepped up in rate (from --start-rate, x1.3,
 *   --step-seconds each) until a run is INVALID twice (a shared machine can stall one run),
 *   achieves < 90% of its rate, or stops growing (< +3%). The runner's figure is the best req/s
 *   of a VALID step: its latencies are only worth something while it is valid. Then `wrk -t1` (one
 *   thread, like the one generator thread) at the number of connections the runner actually had
 *   open at that step, counted by the server (its warm-up's included): the open model's pool may
 *   open up to 1024, but undici opens one only when every open one is busy, so that count is the
 *   concurrency the runner needed; wrk at 1024 would measure something else. wrk sends a mix of
 *   the scenario's routes (POST with a JSON body, GETs, PATCH) through a small Lua script. Rounds
 *   alternate runner and wrk; medians; target runner/wrk >= 0.8. Without wrk (Debian package
 *   `wrk`: `apt-get install -y wrk`) only that comparison is skipped.
 *
 * Exit 1 only when the run failed (a server died, wrk failed, requests failed); figures below a
 * target are figures.
 *
 *   node --import tsx bench/loadgen.ts [--rounds 3] [--step-seconds 5] [--start-rate 1000]
 *     [--accuracy-rate 100] [--accuracy-seconds 10] [--users 5000] [--spawn-rate 1000]
 *     [--memory-seconds 20] [--json]
 */
import {spawn, spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {build, type Histogram} from 'hdr-histogram-js'
import {Pool} from 'undici'
import {contractScenario as scenario, runLoad, type Profile, type Summary} from '../src/loadtest/index.js'
import {benchArgs, fmt, loadavg, log, median, onCleanup, runBench, sleep, startServer, table, tempDir, within, type Server} from './lib.js'

const TARGETS = {ratio: 0.8, latencyMs: 20, tolerance: 0.1, rssMb: 300} as const
const args = benchArgs(
  {
    rounds: 3,
    'step-seconds': 5,
    'start-rate': 1000,
    'max-steps': 12,
    'accuracy-rate': 100,
    'accuracy-seconds': 10,
    users: 5000,
    'spawn-rate': 1000,
    'memory-seconds': 20,
  },
  {fractional: ['step-seconds', 'accuracy-seconds', 'memory-seconds']},
)
const STEP = 1.3
const API_KEY = 'bench-loadgen-key'

const profile = (name: string, durationS: number, users = 1, spawnRate = 1): Profile => ({name, users, spawnRate, durationS})

function alive(...servers: Server[]): void {
  for (const s of servers) {
    const why = s.exited()
    if (why) throw new Error(why)
  }
}

// ---------------------------------------------------------------------------------------
// Memory.

interface MemoryResult {
  users: number
  spawnRate: number
  seconds: number
  baselineMb: number
  peakMb: number
  generatorMb: number
  requests: number
  rps: number
  errors: number
  p99Ms: number
  peakUsers: number
  connections: number
  valid: boolean
  validity: string
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10

async function memory(server: Server): Promise<MemoryResult> {
  await sleep(500)
  const baseline = process.memoryUsage().rss
  let peak = baseline
  const sampler = setInterval(() => void (peak = Math.max(peak, process.memoryUsage().rss)), 250)
  onCleanup(() => clearInterval(sampler))
  await server.stats()
  let s: Summary
  try {
    s = await runLoad({
      scenario,
      target: server.url,
      apiKey: API_KEY,
      profile: profile('bench-memory', args['memory-seconds'], args.users, args['spawn-rate']),
      seed: 1,
      thresholds: [],
    })
  } finally {
    clearInterval(sampler)
  }
  peak = Math.max(peak, process.memoryUsage().rss)
  const st = await server.stats()
  return {
    users: args.users,
    spawnRate: args['spawn-rate'],
    seconds: args['memory-seconds'],
    baselineMb: mb(baseline),
    peakMb: mb(peak),
    generatorMb: mb(peak - baseline),
    requests: s.total.count,
    rps: s.total.rps,
    errors: s.total.failures,
    p99Ms: s.total.p99,
    peakUsers: Math.max(0, ...s.series.map((p) => p.users)),
    connections: st.peak,
    valid: s.validity.valid,
    validity: validityText(s),
  }
}

// ---------------------------------------------------------------------------------------
// Accuracy.

interface LatencyRun {
  client: 'runner' | 'bare undici'
  delayMs: number
  rate: number
  seconds: number
  requests: number
  errors: number
  minMs: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** p99 of the first second (the generator's and the connections' cold start) and the median per-second p99 after it */
  firstSecondP99Ms: number
  laterSecondsP99Ms: number
  valid: boolean
  validity: string
}

function validityText(s: Summary): string {
  const v = s.validity
  const detail = `loop ${Math.round(v.utilisation * 100)}% busy, lag p99 ${v.eventLoopLagP99Ms} ms, late ${v.lateSends}/${v.sends}`
  return v.valid ? `VALID (${detail})` : `INVALID: ${v.reasons.join('; ')}`
}

async function latency(server: Server, delayMs: number): Promise<LatencyRun> {
  const rate = args['accuracy-rate']
  const s = await runLoad({
    scenario,
    target: server.url,
    apiKey: API_KEY,
    profile: profile(`bench-accuracy-${delayMs}ms`, args['accuracy-seconds']),
    seed: 2,
    thresholds: [],
    rate,
    intervalS: 1,
  })
  const t = s.total
  // The last point is the tail after the duration: a part of a second, left out.
  const later = s.series.slice(1, -1).flatMap((p) => (p.p99 === null ? [] : [p.p99]))
  return {
    client: 'runner',
    delayMs,
    rate,
    seconds: args['accuracy-seconds'],
    requests: t.count,
    errors: t.failures,
    minMs: t.min,
    p50Ms: t.p50,
    p99Ms: t.p99,
    maxMs: t.max,
    firstSecondP99Ms: s.series[0]?.p99 ?? Number.NaN,
    laterSecondsP99Ms: median(later),
    valid: s.validity.valid,
    validity: validityText(s),
  }
}

/**
 * The reference for the runner's overhead: the same schedule (--accuracy-rate, latency from the
 * intended send time) from a bare undici Pool in this process's main thread, GET /api/v1/agents/,
 * nothing else: what loopback, the server and a Node client cost on this machine without the runner.
 */
async function bareClient(server: Server, delayMs: number): Promise<LatencyRun> {
  const rate = args['accuracy-rate']
  const seconds = args['accuracy-seconds']
  const http = new Pool(server.url, {connections: 1024, keepAliveTimeout: 30_000})
  onCleanup(() => http.destroy())
  const hist = build()
  const perSecond: Histogram[] = []
  let errors = 0
  let start = 0
  const once = async (due: number) => {
    try {
      const res = await http.request({method: 'GET', path: '/api/v1/agents/', headers: {'x-api-key': API_KEY, accept: 'application/json'}})
      JSON.parse(await res.body.text())
      if (res.statusCode >= 400) errors++
    } catch {
      errors++
    }
    const us = Math.max(1, Math.round((performance.now() - due) * 1000))
    hist.recordValue(us)
    const sec = Math.floor((due - start) / 1000)
    ;(perSecond[sec] ??= build()).recordValue(us)
  }
  // Warm, as the runner now is: connections open and the code compiled.
  await Promise.all(
    Array.from({length: 16}, async () => {
      for (let i = 0; i < 16; i++) await (await http.request({method: 'GET', path: '/health/ready'})).body.text()
    }),
  )
  start = performance.now() + 100
  const inFlight: Array<Promise<void>> = []
  for (let k = 0; k < rate * seconds; k++) {
    const due = start + (k * 1000) / rate
    while (performance.now() < due) await sleep(due - performance.now())
    inFlight.push(once(due))
  }
  await Promise.all(inFlight)
  await http.close()
  const at = (h: Histogram, p: number) => h.getValueAtPercentile(p) / 1000
  return {
    client: 'bare undici',
    delayMs,
    rate,
    seconds,
    requests: hist.totalCount,
    errors,
    minMs: hist.minNonZeroValue / 1000,
    p50Ms: at(hist, 50),
    p99Ms: at(hist, 99),
    maxMs: hist.maxValue / 1000,
    firstSecondP99Ms: perSecond[0] ? at(perSecond[0], 99) : Number.NaN,
    laterSecondsP99Ms: median(perSecond.slice(1).map((h) => at(h, 99))),
    valid: true,
    validity: '-',
  }
}

// ---------------------------------------------------------------------------------------
// Throughput.

interface Step {
  rate: number
  rps: number
  errors: number
  p50Ms: number
  p99Ms: number
  connections: number
  valid: boolean
  validity: string
}

interface Ramp {
  steps: Step[]
  /** the VALID step with the most req/s */
  best?: Step
  stopped: string
}

async function ramp(server: Server, startRate: number): Promise<Ramp> {
  const steps: Step[] = []
  let best: Step | undefined
  let stopped = `${args['max-steps']} steps`
  let rate = startRate
  let retried = false
  for (let i = 0; i < args['max-steps']; i++) {
    await server.stats()
    const s = await runLoad({
      scenario,
      target: server.url,
      apiKey: API_KEY,
      profile: profile('bench-throughput', args['step-seconds']),
      seed: 3 + i,
      thresholds: [],
      rate,
    })
    alive(server)
    const st = await server.stats()
    const step: Step = {
      rate,
      rps: s.total.rps,
      errors: s.total.failures,
      p50Ms: s.total.p50,
      p99Ms: s.total.p99,
      connections: st.peak,
      valid: s.validity.valid,
      validity: validityText(s),
    }
    steps.push(step)
    log(
      `  rate ${String(rate).padStart(6)}: ${fmt(step.rps).padStart(6)} req/s, ${step.connections} connections, ` +
        `p50 ${fmt(step.p50Ms, 2)} ms, p99 ${fmt(step.p99Ms, 2)} ms${step.errors ? `, ${step.errors} errors` : ''}, ${step.validity}`,
    )
    const previous = best?.rps ?? 0
    if (step.valid && step.rps > previous) best = step
    if (!step.valid) {
      // A shared machine can stall one run: the same rate once more before the ramp ends.
      if (!retried) {
        retried = true
        continue
      }
      stopped = `INVALID at ${rate}/s`
      break
    }
    if (step.rps < 0.9 * rate) {
      stopped = `achieved ${fmt(step.rps)} < 90% of ${rate}/s`
      break
    }
    if (step.rps < previous * 1.03) {
      stopped = `stopped growing at ${rate}/s`
      break
    }
    rate = Math.round(rate * STEP)
  }
  return {steps, best, stopped}
}

interface WrkRun {
  connections: number
  rps: number
  non2xx: number
  socketErrors: number
}

const WRK_SCRIPT = `
wrk.headers["x-api-key"] = "${API_KEY}"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json"
local agent = '{"name":"load-agent-123456789","agent_type":"simple","configuration":{"max_tokens":1000,"temperature":0.5},' ..
  '"metadata":{"created_by":"load_test","test_run":"00000000-0000-4000-8000-000000000000"}}'
local id = "00000000-0000-4000-8000-000000000001"
local requests = {}
-- wrk sets the Host header (which HTTP/1.1 needs) only just before init(): format the requests there.
init = function(args)
  requests = {
    wrk.format("POST", "/api/v1/agents/", nil, agent),
    wrk.format("GET", "/api/v1/agents/"),
    wrk.format("GET", "/api/v1/agents/" .. id),
    wrk.format("GET", "/api/v1/goals/"),
    wrk.format("PATCH", "/api/v1/agents/" .. id, nil, '{"status":"idle","configuration":{"max_tokens":500}}'),
  }
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
`

function haveWrk(): boolean {
  return spawnSync('wrk', ['--version'], {stdio: 'ignore'}).error === undefined
}

async function runWrk(url: string, script: string, connections: number, seconds: number): Promise<WrkRun> {
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, `${url}/`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  onCleanup(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')))
  let out = ''
  child.stdout!.on('data', (d: Buffer) => void (out += d))
  child.stderr!.on('data', (d: Buffer) => void (out += d))
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))), (seconds + 30) * 1000)
  if (code !== 0) throw new Error(`wrk ${code === 'timeout' ? 'did not finish' : `exited with ${code}`}: ${out.trim().slice(-500)}`)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!rps) throw new Error(`no Requests/sec in wrk's output: ${out.trim().slice(-500)}`)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    connections,
    rps: Number(rps[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
  }
}

// ---------------------------------------------------------------------------------------

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const fast = await startServer('0 ms', 0)
  const slow = await startServer('20 ms', TARGETS.latencyMs)
  log(`servers: 0 ms at ${fast.url}, 20 ms at ${slow.url}; loadavg ${load.before}`)

  log(`memory: ${args.users} users (closed model, think 1-3 s, spawn ${args['spawn-rate']}/s) for ${args['memory-seconds']} s`)
  const mem = await memory(fast)
  alive(fast)
  log(
    `  RSS ${mem.baselineMb} MB before, peak ${mem.peakMb} MB: generator ${mem.generatorMb} MB; ${mem.requests} requests, ` +
      `${mem.peakUsers} users, ${mem.connections} connections, ${mem.validity}`,
  )

  log(
    `accuracy: open model at ${args['accuracy-rate']} req/s for ${args['accuracy-seconds']} s against the 20 ms and the 0 ms server, ` +
      `then a bare undici client on the same schedule`,
  )
  const acc: LatencyRun[] = []
  for (const [server, delayMs] of [
    [slow, TARGETS.latencyMs],
    [fast, 0],
  ] as const) {
    for (const run of [latency, bareClient]) {
      const a = await run(server, delayMs)
      alive(fast, slow)
      acc.push(a)
      log(
        `  ${a.delayMs} ms server, ${a.client}: p50 ${fmt(a.p50Ms, 2)} ms, ` +
          `p99 ${fmt(a.p99Ms, 2)} ms (first second ${fmt(a.firstSecondP99Ms, 2)}, later seconds ${fmt(a.laterSecondsP99Ms, 2)}), ` +
          `${a.requests} requests, ${a.validity}`,
      )
    }
  }
  const find = (client: LatencyRun['client'], delayMs: number) => acc.find((a) => a.client === client && a.delayMs === delayMs)!
  const [a20, a0, b20, b0] = [
    find('runner', TARGETS.latencyMs),
    find('runner', 0),
    find('bare undici', TARGETS.latencyMs),
    find('bare undici', 0),
  ]

  const wrk = haveWrk()
  if (!wrk) log('wrk is not installed (Debian package wrk: apt-get install -y wrk); the runner/wrk comparison is skipped')
  const script = join(tempDir('bench-loadgen-'), 'mix.lua')
  writeFileSync(script, WRK_SCRIPT)
  const wrkSeconds = Math.max(1, Math.round(args['step-seconds']))
  const rounds: Array<{ramp: Ramp; wrk?: WrkRun}> = []
  let start = args['start-rate']
  for (let round = 1; round <= args.rounds; round++) {
    log(`throughput round ${round}: runner ramp from ${start}/s (x${STEP}, ${args['step-seconds']} s a step)`)
    const r = await ramp(fast, start)
    const entry: (typeof rounds)[number] = {ramp: r}
    rounds.push(entry)
    log(
      `  best valid: ${r.best ? `${fmt(r.best.rps)} req/s at ${r.best.rate}/s with ${r.best.connections} connections` : 'none'} ` +
        `(${r.stopped})`,
    )
    if (wrk) {
      const connections = Math.max(1, r.best?.connections ?? r.steps.at(-1)?.connections ?? 1)
      entry.wrk = await runWrk(fast.url, script, connections, wrkSeconds)
      alive(fast)
      const {non2xx, socketErrors} = entry.wrk
      const failed = non2xx + socketErrors ? `, ${non2xx} non-2xx, ${socketErrors} socket errors` : ''
      log(`  wrk -t1 -c${connections}: ${fmt(entry.wrk.rps)} req/s${failed}`)
    }
    // Later ramps start lower than the last best, so they climb through the interesting part.
    if (r.best) start = Math.max(100, Math.round((r.best.rps * 0.6) / 100) * 100)
  }
  load.after = loadavg()

  const bests = rounds.map((r) => r.ramp.best?.rps ?? Number.NaN)
  const runnerRps = median(bests.filter(Number.isFinite))
  const wrkRps = wrk ? median(rounds.map((r) => r.wrk!.rps)) : Number.NaN
  const ratio = runnerRps / wrkRps
  const connections = median(rounds.map((r) => r.ramp.best?.connections ?? Number.NaN).filter(Number.isFinite))
  const within10 = (x: number) => x >= TARGETS.latencyMs && x <= TARGETS.latencyMs * (1 + TARGETS.tolerance)
  const verdicts = {
    throughput: !wrk ? 'SKIPPED (no wrk)' : ratio >= TARGETS.ratio ? 'PASS' : 'BELOW TARGET',
    accuracy: within10(a20.p50Ms) && within10(a20.p99Ms) ? 'PASS' : 'OUTSIDE TARGET',
    memory:
      mem.generatorMb < TARGETS.rssMb && mem.valid
        ? 'PASS'
        : mem.generatorMb < TARGETS.rssMb
          ? 'PASS (memory) but the run was INVALID'
          : 'ABOVE TARGET',
  }
  const errors =
    mem.errors +
    acc.reduce((n, a) => n + a.errors, 0) +
    rounds.reduce((n, r) => n + r.ramp.steps.reduce((m, s) => m + s.errors, 0) + (r.wrk ? r.wrk.non2xx + r.wrk.socketErrors : 0), 0)

  if (args.json) {
    const doc = {
      benchmark: 'loadgen',
      options: args,
      loadavg: load,
      targets: TARGETS,
      memory: mem,
      accuracy: {
        target: `p50 and p99 in [${TARGETS.latencyMs}, ${TARGETS.latencyMs * (1 + TARGETS.tolerance)}] ms`,
        runner20ms: a20,
        runner0ms: a0,
        bare20ms: b20,
        bare0ms: b0,
        excessP50Ms: a20.p50Ms - TARGETS.latencyMs,
        excessP99Ms: a20.p99Ms - TARGETS.latencyMs,
      },
      throughput: {runnerRps, wrkRps: wrk ? wrkRps : null, ratio: wrk ? ratio : null, connections, wrkThreads: 1, rounds},
      verdicts,
      errors,
    }
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`)
  } else {
    console.log(
      `load generator (src/loadtest runLoad, one generator worker thread) against node:http servers in other processes; ` +
        `loadavg ${load.before} -> ${load.after}`,
    )
    console.log('')
    console.log(`memory: ${mem.users} virtual users, closed model, think 1-3 s, spawn ${mem.spawnRate}/s, ${mem.seconds} s, 0 ms server`)
    console.log(
      table(
        ['RSS before MB', 'peak MB', 'generator MB', 'users', 'requests', 'req/s', 'p99 ms', 'connections', 'errors', 'validity'],
        [
          [
            mem.baselineMb,
            mem.peakMb,
            mem.generatorMb,
            mem.peakUsers,
            mem.requests,
            fmt(mem.rps),
            fmt(mem.p99Ms, 2),
            mem.connections,
            mem.errors,
            mem.validity,
          ],
        ],
        0,
      ),
    )
    console.log(`verdict: ${verdicts.memory}: ${mem.generatorMb} MB (target < ${TARGETS.rssMb} MB)`)
    console.log('')
    console.log(`accuracy: open model at ${args['accuracy-rate']} req/s for ${args['accuracy-seconds']} s`)
    console.log(
      table(
        ['server', 'client', 'requests', 'min ms', 'p50 ms', 'p99 ms', 'max ms', 'p99 1st s', 'p99 later s (median)', 'errors', 'validity'],
        acc.map((a) => [
          `${a.delayMs} ms`,
          a.client,
          a.requests,
          fmt(a.minMs, 2),
          fmt(a.p50Ms, 2),
          fmt(a.p99Ms, 2),
          fmt(a.maxMs, 2),
          fmt(a.firstSecondP99Ms, 2),
          fmt(a.laterSecondsP99Ms, 2),
          a.errors,
          a.validity,
        ]),
        2,
      ),
    )
    console.log(
      `verdict: ${verdicts.accuracy}: p50 ${fmt(a20.p50Ms, 2)} ms, p99 ${fmt(a20.p99Ms, 2)} ms against ${TARGETS.latencyMs} ms (target ` +
        `[${TARGETS.latencyMs}, ${TARGETS.latencyMs * (1 + TARGETS.tolerance)}]); ` +
        `on the 0 ms server the runner's p50/p99 are ${fmt(a0.p50Ms, 2)}/${fmt(a0.p99Ms, 2)} ms (loopback, HTTP on both sides, ` +
        `timer wake-ups), ` +
        `a bare undici client's ${fmt(b0.p50Ms, 2)}/${fmt(b0.p99Ms, 2)} ms (and ${fmt(b20.p50Ms, 2)}/${fmt(b20.p99Ms, 2)} ms on the 20 ` +
        `ms server)`,
    )
    console.log('')
    console.log(
      `throughput: runner open model stepped x${STEP} (${args['step-seconds']} s a step; best VALID step) ` +
        `vs wrk -t1 at the runner's connection count, ${args.rounds} rounds`,
    )
    console.log(
      table(
        ['round', 'runner req/s', 'at rate', 'connections', 'runner p99 ms', 'stopped', 'wrk req/s'],
        rounds.map((r, i) => [
          i + 1,
          fmt(r.ramp.best?.rps ?? Number.NaN),
          r.ramp.best?.rate ?? '-',
          r.ramp.best?.connections ?? '-',
          fmt(r.ramp.best?.p99Ms ?? Number.NaN, 2),
          r.ramp.stopped,
          r.wrk ? fmt(r.wrk.rps) : '-',
        ]),
        0,
      ),
    )
    console.log(
      wrk
        ? `verdict: ${verdicts.throughput}: runner ${fmt(runnerRps)} req/s / wrk ${fmt(wrkRps)} req/s = ${fmt(ratio, 2)} at ` +
            `${fmt(connections)} connections (target >= ${TARGETS.ratio})`
        : `verdict: ${verdicts.throughput}: runner ${fmt(runnerRps)} req/s; install wrk (apt-get install -y wrk) for the comparison`,
    )
  }
  if (errors > 0) throw new Error(`${errors} requests failed against a server that cannot fail: the figures are not a measurement`)
})
