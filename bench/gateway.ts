/**
 * What L09 costs: the same requests through the gateway (GET /api/v1/agents/:id,
 * POST /api/v1/goals/) and directly on L01 (GET /agents/:id, POST /goals/), at the same
 * concurrency, on the platform's embedded PostgreSQL. The servers run in a child process
 * (the built `bin/run.js up`, its default topology), never in the load generator's event loop. Direct
 * and through alternate per route, each measurement after its own warm-up; medians are
 * compared. Target: through/direct >= 0.75 per route. Exit 1 only when the run failed.
 *
 *   node --import tsx bench/gateway.ts [--seconds 6] [--concurrency 16] [--rounds 2] [--warmup 1] [--json]
 */
import {
  DEFAULT_TOPOLOGY,
  benchArgs,
  fmt,
  log,
  pool,
  runBench,
  send,
  startPlatformOnPostgres,
  summarise,
  table,
  timedLoop,
  type Call,
  type LoadResult,
} from './lib.js'

const TARGET = 0.75
const args = benchArgs({seconds: 6, concurrency: 16, rounds: 2, warmup: 1}, {fractional: ['seconds'], zero: ['warmup']})

interface Side {
  name: 'direct' | 'through'
  call: Call
  runs: LoadResult[]
}

const summary = (s: Side) => summarise(s.runs)

await runBench(async () => {
  const {platform} = await startPlatformOnPostgres()
  const l01 = pool(platform.l01, args.concurrency)
  const l09 = pool(platform.l09, args.concurrency)
  const direct = {'content-type': 'application/json', 'x-api-key': platform.internalKey}
  const through = {'content-type': 'application/json', 'x-api-key': platform.apiKey}

  const created = await send(l01, {method: 'POST', path: '/agents/', headers: direct, body: {name: 'bench-agent', agent_type: 'simple'}})
  if (created.status !== 201) throw new Error(`creating the agent: HTTP ${created.status} ${created.text.slice(0, 200)}`)
  const agentId = (JSON.parse(created.text) as {id: string}).id
  const goal = {agent_id: agentId, description: 'benchmark goal', success_criteria: ['it is done'], priority: 5}

  const routes: Array<{route: string; expect: number; sides: Side[]}> = [
    {
      route: 'GET /agents/:id',
      expect: 200,
      sides: [
        {name: 'direct', call: {method: 'GET', path: `/agents/${agentId}`, headers: direct}, runs: []},
        {name: 'through', call: {method: 'GET', path: `/api/v1/agents/${agentId}`, headers: through}, runs: []},
      ],
    },
    {
      route: 'POST /goals/',
      expect: 201,
      sides: [
        {name: 'direct', call: {method: 'POST', path: '/goals/', headers: direct, body: goal}, runs: []},
        {name: 'through', call: {method: 'POST', path: '/api/v1/goals/', headers: through, body: goal}, runs: []},
      ],
    },
  ]

  for (const r of routes) {
    for (let round = 1; round <= args.rounds; round++) {
      for (const side of r.sides) {
        const http = side.name === 'direct' ? l01 : l09
        const user = () => async () => {
          const res = await send(http, side.call)
          return res.status === r.expect || `HTTP ${res.status}: ${res.text.slice(0, 200)}`
        }
        if (args.warmup > 0) await timedLoop({seconds: args.warmup, concurrency: args.concurrency, user})
        const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user})
        const died = platform.exited()
        if (died) throw new Error(`the platform ${died}`)
        side.runs.push(run)
        log(
          `${r.route} round ${round} ${side.name.padEnd(7)} ${fmt(run.rate).padStart(6)} req/s  p95 ${fmt(run.p95Ms, 2)} ` +
            `ms${run.errors ? `  errors ${run.errors} (${run.firstError})` : ''}`,
        )
      }
    }
  }

  const results = routes.map((r) => {
    const [d, t] = r.sides.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>]
    return {route: r.route, direct: d, through: t, ratio: t.rate / d.rate}
  })
  const below = results.filter((r) => !(r.ratio >= TARGET))
  const errors = results.reduce((n, r) => n + r.direct.errors + r.through.errors, 0)
  const verdict = below.length === 0 ? 'PASS' : 'BELOW TARGET'

  if (args.json) {
    const {seconds, concurrency, rounds, warmup} = args
    const record = {
      benchmark: 'gateway',
      database: 'postgresql',
      topology: DEFAULT_TOPOLOGY,
      seconds,
      concurrency,
      rounds,
      warmup,
      results,
      target: TARGET,
      verdict,
      errors,
    }
    process.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
  } else {
    console.log(
      `L09 vs direct L01, PostgreSQL, ${DEFAULT_TOPOLOGY} topology, concurrency ${args.concurrency}, ` +
        `${args.rounds} x ${args.seconds} s per side (medians)`,
    )
    const rows = results.flatMap((r) =>
      (['direct', 'through'] as const).map((k) => [
        r.route,
        k,
        fmt(r[k].rate),
        fmt(r[k].p50Ms, 2),
        fmt(r[k].p95Ms, 2),
        r[k].errors,
        r[k].rates.join(' '),
        k === 'through' ? fmt(r.ratio, 2) : '',
      ]),
    )
    console.log(table(['route', 'side', 'req/s', 'p50 ms', 'p95 ms', 'errors', 'rounds req/s', 'through/direct'], rows, 2))
    console.log(
      `verdict: ${verdict}: through/direct ${results.map((r) => `${r.route} ${fmt(r.ratio, 2)}`).join(', ')} (target >= ${TARGET} each)`,
    )
  }
  if (errors > 0)
    throw new Error(
      `${errors} requests failed, the figures are not a measurement (first: ` +
        `${results.map((r) => r.direct.firstError ?? r.through.firstError).find(Boolean)})`,
    )
})
