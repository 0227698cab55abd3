/**
 * What L01 costs over the database: POST /goals/ on L01 over HTTP against a bare pg Pool
 * doing the same INSERT, on the platform's embedded PostgreSQL. L01 runs in a child process
 * (the built `bin/run.js up`, its default topology), as a user starts it, never in the load generator's
 * event loop; the baseline pool (the size of L01's, 10) runs here. Sides alternate
 * (baseline, subject, ...), each measurement after its own warm-up; medians are compared.
 * Target: subject/baseline >= 0.6. It reports, it does not gate: exit 0 whatever the
 * ratio, 1 only when the run failed (errors, crash).
 *
 *   node --import tsx bench/data-layer.ts [--seconds 8] [--warmup 1] [--rounds 3] [--json]
 */
import {randomUUID} from 'node:crypto'
import pg from 'pg'
import {
  DEFAULT_TOPOLOGY,
  benchArgs,
  fmt,
  log,
  onCleanup,
  pool,
  runBench,
  send,
  startPlatformOnPostgres,
  summarise,
  table,
  timedLoop,
  within,
  type LoadResult,
  type User,
} from './lib.js'

/** Virtual users, the baseline pool's size, and L01's own pool size (its default). */
const CONCURRENCY = 10
const TARGET = 0.6
const args = benchArgs({seconds: 8, warmup: 1, rounds: 3}, {fractional: ['seconds'], zero: ['warmup']})

/** The statement L01 runs for POST /goals/ with this body (its column order aside). */
const INSERT =
  'INSERT INTO mcp_documents.goals (goal_id, agent_id, agent_did, priority, success_criteria, goal_text) ' +
  'VALUES ($1,$2,$3,$4,$5::jsonb,$6) RETURNING *'

interface Side {
  name: 'baseline' | 'subject'
  /** One request. */
  op: User
  runs: LoadResult[]
}

const summary = (s: Side) => summarise(s.runs)

await runBench(async () => {
  const {databaseUrl, platform} = await startPlatformOnPostgres()
  const l01 = pool(platform.l01, CONCURRENCY)
  const headers = {'content-type': 'application/json', 'x-api-key': platform.internalKey}

  const created = await send(l01, {method: 'POST', path: '/agents/', headers, body: {name: 'bench-agent', agent_type: 'simple'}})
  if (created.status !== 201) throw new Error(`creating the agent: HTTP ${created.status} ${created.text.slice(0, 200)}`)
  const agentId = (JSON.parse(created.text) as {id: string}).id
  const goal = {agent_id: agentId, description: 'benchmark goal', success_criteria: ['it is done'], priority: 5}

  const db = new pg.Pool({connectionString: databaseUrl, max: CONCURRENCY})
  db.on('error', () => {}) // an idle client lost its server: the next query reports it
  onCleanup(() => within(db.end(), 5000))
  const params = () => [randomUUID(), agentId, `agent-${agentId}`, goal.priority, JSON.stringify(goal.success_criteria), goal.description]

  const sides: Side[] = [
    {
      name: 'baseline',
      runs: [],
      op: async () => {
        const r = await db.query(INSERT, params())
        return r.rowCount === 1 || `INSERT returned ${r.rowCount} rows`
      },
    },
    {
      name: 'subject',
      runs: [],
      op: async () => {
        const res = await send(l01, {method: 'POST', path: '/goals/', headers, body: goal})
        return res.status === 201 || `HTTP ${res.status}: ${res.text.slice(0, 200)}`
      },
    },
  ]

  // On Ctrl-C, runBench's handler runs the cleanups while a timed loop may still be going:
  // the pools it closes would fail every further request at once, and users failing without
  // ever waiting starve the event loop, and so the cleanup, until the loop's deadline.
  // Registered last, this cleanup runs first: from then on users park, never to resume, and
  // the handler finishes and exits.
  let interrupted = false
  onCleanup(() => void (interrupted = true))
  const park = new Promise<never>(() => {})

  for (let round = 1; round <= args.rounds; round++) {
    for (const side of sides) {
      const user = () => () => (interrupted ? park : side.op())
      if (args.warmup > 0) await timedLoop({seconds: args.warmup, concurrency: CONCURRENCY, user})
      const run = await timedLoop({seconds: args.seconds, concurrency: CONCURRENCY, user})
      const died = platform.exited()
      if (died) throw new Error(`the platform ${died}`)
      side.runs.push(run)
      log(
        `round ${round} ${side.name.padEnd(8)} ${fmt(run.rate).padStart(6)}/s  p95 ${fmt(run.p95Ms, 2)} ` +
          `ms${run.errors ? `  errors ${run.errors} (${run.firstError})` : ''}`,
      )
    }
  }

  const [baseline, subject] = sides.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>]
  const ratio = subject.rate / baseline.rate
  const errors = baseline.errors + subject.errors
  const verdict = ratio >= TARGET ? 'PASS' : 'BELOW TARGET'

  if (args.json) {
    const {seconds, warmup, rounds} = args
    const figures = {
      benchmark: 'data-layer',
      database: 'postgresql',
      topology: DEFAULT_TOPOLOGY,
      seconds,
      warmup,
      rounds,
      concurrency: CONCURRENCY,
      baseline,
      subject,
      ratio,
      target: TARGET,
      verdict,
      errors,
    }
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
  } else {
    console.log(
      `POST /goals/ on L01 (${DEFAULT_TOPOLOGY} topology, child process) vs the same INSERT on a bare pg Pool(${CONCURRENCY}), ` +
        `concurrency ${CONCURRENCY}, ${args.rounds} x ${args.seconds} s per side (medians)`,
    )
    const rows = (['baseline', 'subject'] as const).map((k) => {
      const s = k === 'baseline' ? baseline : subject
      return [k, fmt(s.rate), fmt(s.p50Ms, 2), fmt(s.p95Ms, 2), s.errors, s.rates.join(' ')]
    })
    console.log(table(['side', 'rate/s', 'p50 ms', 'p95 ms', 'errors', 'rounds rate/s'], rows))
    console.log(`ratio ${fmt(ratio, 2)} (target >= ${TARGET}): ${verdict}`)
  }
  if (errors > 0)
    throw new Error(`${errors} requests failed, the figures are not a measurement (first: ${subject.firstError ?? baseline.firstError})`)
})
