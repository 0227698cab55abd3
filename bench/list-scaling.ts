/**
 * Whether a list's cost grows with the table: `GET /agents/` (the default page of 100) on L01
 * over PostgreSQL with 1,000 agents and with 1,000,000, in the same run. Two platforms as `up`
 * starts them (the default topology, each on its own embedded PostgreSQL) in child processes;
 * the rows are seeded in bulk with SQL, then VACUUM ANALYZE, as autovacuum would leave them.
 * Sides alternate (small, large, ...), each measurement after its own warm-up; medians are
 * compared. Target: large/small >= 0.67. Reports; exit 1 only when the run failed.
 *
 *   node --import tsx bench/list-scaling.ts [--small 1000] [--large 1000000] [--seconds 5] [--warmup 1] [--rounds 3]
 *     [--concurrency 16] [--json]
 */
import pg from 'pg'
import {
  benchArgs,
  fmt,
  loadavg,
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
} from './lib.js'

const TARGET = 0.67
const args = benchArgs(
  {small: 1000, large: 1_000_000, seconds: 5, warmup: 1, rounds: 3, concurrency: 16},
  {fractional: ['seconds'], zero: ['warmup']},
)

async function seed(databaseUrl: string, n: number): Promise<void> {
  const db = new pg.Client({connectionString: databaseUrl})
  await db.connect()
  try {
    const t0 = performance.now()
    // In batches of 100,000: one statement of a million rows holds its WAL and locks for long.
    for (let done = 0; done < n; done += 100_000) {
      await db.query(
        `INSERT INTO mcp_documents.agents (did, name, agent_type, status, configuration, metadata)
         SELECT 'did:agent:bench:' || g, 'bench agent ' || g, 'simple', 'active',
                jsonb_build_object('max_tokens', 100 + g % 1900, 'temperature', 0.5),
                jsonb_build_object('created_by', 'load_test', 'test_run', 'bench')
         FROM generate_series($1::int + 1, $1::int + $2::int) g`,
        [done, Math.min(100_000, n - done)],
      )
    }
    await db.query('VACUUM ANALYZE mcp_documents.agents')
    log(`  seeded ${n} agents in ${fmt((performance.now() - t0) / 1000, 1)} s`)
  } finally {
    await db.end()
  }
}

type Figures = ReturnType<typeof summarise> & {rows: number; bytes: number; totalExact?: boolean}

interface Side {
  name: 'small' | 'large'
  rows: number
  l01: string
  key: string
  runs: LoadResult[]
  bytes: number
  totalExact?: boolean
}

await runBench(async () => {
  const load = {before: loadavg(), after: ''}
  const sides: Side[] = []
  for (const [name, rows] of [
    ['small', args.small],
    ['large', args.large],
  ] as const) {
    const {databaseUrl, platform} = await startPlatformOnPostgres()
    await seed(databaseUrl, rows)
    sides.push({name, rows, l01: platform.l01, key: platform.internalKey, runs: [], bytes: 0})
  }
  let interrupted = false
  onCleanup(() => void (interrupted = true))
  const park = new Promise<never>(() => {})

  for (let round = 1; round <= args.rounds; round++) {
    for (const side of sides) {
      const http = pool(side.l01, args.concurrency)
      const headers = {'x-api-key': side.key}
      const user = () => async () => {
        if (interrupted) return park
        const res = await send(http, {method: 'GET', path: '/agents/', headers})
        if (res.status !== 200) return `HTTP ${res.status}: ${res.text.slice(0, 200)}`
        side.bytes = res.text.length
        side.totalExact ??= (JSON.parse(res.text) as {total_exact: boolean}).total_exact
        return true
      }
      if (args.warmup > 0) await timedLoop({seconds: args.warmup, concurrency: args.concurrency, user})
      const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user})
      await within(http.close(), 5000)
      side.runs.push(run)
      log(
        `round ${round} ${side.name.padEnd(5)} ${String(side.rows).padStart(8)} rows  ${fmt(run.rate).padStart(6)}/s  p95 ` +
          `${fmt(run.p95Ms, 2)} ms${run.errors ? `  errors ${run.errors} (${run.firstError})` : ''}`,
      )
    }
  }
  load.after = loadavg()
  const [small, large] = sides.map((s) => ({...summarise(s.runs), rows: s.rows, bytes: s.bytes, totalExact: s.totalExact})) as [
    Figures,
    Figures,
  ]
  const ratio = large.rate / small.rate
  const verdict = ratio >= TARGET ? 'PASS' : 'BELOW TARGET'
  const errors = small.errors + large.errors
  if (args.json) {
    const record = {benchmark: 'list-scaling', loadavg: load, options: args, small, large, ratio, target: TARGET, verdict, errors}
    process.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
  } else {
    console.log(
      `GET /agents/ (limit 100) on L01 over the embedded PostgreSQL, concurrency ${args.concurrency}, ` +
        `${args.rounds} x ${args.seconds} s per side (medians); loadavg ${load.before} -> ${load.after}`,
    )
    const rows = [small, large].map((s, i) => [
      i ? 'large' : 'small',
      s.rows,
      fmt(s.rate),
      fmt(s.p50Ms, 2),
      fmt(s.p95Ms, 2),
      s.bytes,
      String(s.totalExact),
      s.errors,
    ])
    console.log(table(['side', 'agents', 'req/s', 'p50 ms', 'p95 ms', 'bytes', 'total_exact', 'errors'], rows))
    console.log(`ratio ${fmt(ratio, 2)} (target >= ${TARGET}): ${verdict}`)
  }
  if (errors > 0) throw new Error(`${errors} requests failed, the figures are not a measurement`)
})
