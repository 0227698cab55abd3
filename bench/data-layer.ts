/**
 * L01 POST /goals/ over HTTP against a bare pg Pool doing the same INSERT, in one run
 * on a throwaway PostgreSQL cluster. Measurements alternate (baseline, subject, ...) to
 * cancel machine noise; the medians are compared. It reports, it does not gate: exit 0
 * whatever the ratio, 1 only when the run itself failed (errors, crash).
 *
 *   node --import tsx bench/data-layer.ts [--seconds 8] [--warmup 1] [--rounds 3] [--json]
 */
import {randomUUID} from 'node:crypto'
import type {AddressInfo} from 'node:net'
import {parseArgs} from 'node:util'
import {build, type Histogram} from 'hdr-histogram-js'
import pg from 'pg'
import {Pool as HttpPool} from 'undici'
import {generateKey, migrationsDir, packageVersion} from '../src/core/index.js'
import {buildDataLayer} from '../src/data-layer/index.js'
import {migrate, openDb} from '../src/db/index.js'
import {startCluster, type Cluster} from '../test/support/postgres.js'

const CONCURRENCY = 10
const TARGET = 0.6

const {values: args} = parseArgs({
  options: {
    seconds: {type: 'string', default: '8'},
    warmup: {type: 'string', default: '1'},
    rounds: {type: 'string', default: '3'},
    json: {type: 'boolean', default: false},
  },
})
const positive = (name: string, v: string, min: number): number => {
  const n = Number(v)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`)
  return n
}
const seconds = positive('seconds', args.seconds, 0.1)
const warmup = positive('warmup', args.warmup, 0)
const rounds = Math.floor(positive('rounds', args.rounds, 2))
const log = (msg: string) => process.stderr.write(`${msg}\n`)

interface Run {
  ok: number
  errors: number
  firstError?: string
  rate: number
}

/**
 * Runs op in `concurrency` async loops until `secs` have passed; each loop stops by itself
 * at the deadline. op resolves true for a success, or a message (or throws) for an error;
 * successful latencies go into hist (microseconds).
 */
async function timedLoop(secs: number, op: () => Promise<true | string>, hist?: Histogram): Promise<Run> {
  const run: Run = {ok: 0, errors: 0, rate: 0}
  const start = performance.now()
  const deadline = start + secs * 1000
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      let outcome: true | string
      try {
        outcome = await op()
      } catch (err) {
        outcome = (err as Error).message
      }
      if (outcome === true) {
        run.ok++
        hist?.recordValue(Math.round((performance.now() - t0) * 1000))
      } else {
        run.errors++
        run.firstError ??= outcome
      }
    }
  }
  await Promise.all(Array.from({length: CONCURRENCY}, loop))
  run.rate = run.ok / ((performance.now() - start) / 1000)
  return run
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

interface Side {
  name: 'baseline' | 'subject'
  op: () => Promise<true | string>
  hist: Histogram
  runs: Run[]
}

async function main(cluster: Cluster): Promise<number> {
  // 1. A database with the schema and one agent to reference.
  const admin = new pg.Client({connectionString: cluster.url})
  await admin.connect()
  await admin.query('CREATE DATABASE bench')
  await admin.end()
  const databaseUrl = cluster.url.replace(/\/[^/]*$/, '/bench')
  const setupDb = await openDb({databaseUrl})
  let agentId: string
  try {
    await migrate(setupDb, {dir: migrationsDir()})
    const r = await setupDb.query<{id: string}>(`INSERT INTO mcp_documents.agents (did, name) VALUES ('did:agent:bench:0', 'bench') RETURNING id`)
    agentId = r.rows[0]!.id
  } finally {
    await setupDb.close()
  }

  const criteria = ['it is done']
  const description = 'benchmark goal'
  const priority = 5

  // 2. Baseline: the INSERT L01 makes for POST /goals/, on a bare pool.
  const pool = new pg.Pool({connectionString: databaseUrl, max: CONCURRENCY})
  pool.on('error', () => {}) // an idle client lost its server: the next query reports it
  const insert =
    'INSERT INTO mcp_documents.goals (goal_id, agent_id, agent_did, priority, success_criteria, goal_text) VALUES ($1,$2,$3,$4,$5::jsonb,$6) RETURNING *'

  // 3. Subject: L01 on a loopback port with its own pool of the same size, over real HTTP.
  const key = generateKey()
  const db = await openDb({databaseUrl, poolSize: CONCURRENCY})
  const app = buildDataLayer({db, apiKeys: [key], version: packageVersion()})
  let http: HttpPool | undefined
  try {
    await app.listen({host: '127.0.0.1', port: 0})
    const {port} = app.server.address() as AddressInfo
    http = new HttpPool(`http://127.0.0.1:${port}`, {connections: CONCURRENCY})
    const client = http
    const body = JSON.stringify({agent_id: agentId, description, success_criteria: criteria, priority})
    const headers = {'content-type': 'application/json', 'x-api-key': key}

    const sides: Side[] = [
      {
        name: 'baseline',
        hist: build(),
        runs: [],
        op: async () => {
          await pool.query(insert, [randomUUID(), agentId, `agent-${agentId}`, priority, JSON.stringify(criteria), description])
          return true
        },
      },
      {
        name: 'subject',
        hist: build(),
        runs: [],
        op: async () => {
          const res = await client.request({method: 'POST', path: '/goals/', headers, body})
          const text = await res.body.text()
          return res.statusCode === 201 || `HTTP ${res.statusCode}: ${text.slice(0, 200)}`
        },
      },
    ]

    // 4. Alternate the sides, each measurement after its own warm-up.
    for (let round = 1; round <= rounds; round++) {
      for (const side of sides) {
        if (warmup > 0) await timedLoop(warmup, side.op)
        const run = await timedLoop(seconds, side.op, side.hist)
        side.runs.push(run)
        log(`round ${round} ${side.name.padEnd(8)} ${run.rate.toFixed(0).padStart(6)}/s${run.errors ? `  errors ${run.errors} (${run.firstError})` : ''}`)
      }
    }

    const summary = (s: Side) => ({
      rate: median(s.runs.map((r) => r.rate)),
      rates: s.runs.map((r) => Math.round(r.rate)),
      p50Ms: s.hist.getValueAtPercentile(50) / 1000,
      p95Ms: s.hist.getValueAtPercentile(95) / 1000,
      ok: s.runs.reduce((n, r) => n + r.ok, 0),
      errors: s.runs.reduce((n, r) => n + r.errors, 0),
      firstError: s.runs.find((r) => r.firstError)?.firstError,
    })
    const [baseline, subject] = sides.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>]
    const ratio = subject.rate / baseline.rate
    const failed = baseline.errors + subject.errors > 0
    const verdict = ratio >= TARGET ? 'PASS' : 'BELOW TARGET'

    if (args.json) {
      const figures = {seconds, warmup, rounds, concurrency: CONCURRENCY, baseline, subject, ratio, target: TARGET, verdict, failed}
      process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
    } else {
      const row = (name: string, s: typeof baseline) =>
        `${name.padEnd(10)}${s.rate.toFixed(0).padStart(9)}${s.p50Ms.toFixed(2).padStart(9)}${s.p95Ms.toFixed(2).padStart(9)}${String(s.errors).padStart(8)}   ${s.rates.join(' ')}`
      console.log(`POST /goals/, concurrency ${CONCURRENCY}, ${rounds} x ${seconds}s each (median rate)`)
      console.log(`${'side'.padEnd(10)}${'rate/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'errors'.padStart(8)}   rounds/s`)
      console.log(row('baseline', baseline))
      console.log(row('subject', subject))
      console.log(`ratio ${ratio.toFixed(2)} (target >= ${TARGET}): ${verdict}`)
    }
    if (failed) log(`run failed: ${baseline.errors + subject.errors} errors (first: ${subject.firstError ?? baseline.firstError})`)
    return failed ? 1 : 0
  } finally {
    await http?.close()
    await app.close()
    await db.close()
    await pool.end()
  }
}

log('starting a throwaway PostgreSQL cluster')
const cluster = await startCluster()
const onSignal = (sig: NodeJS.Signals) => {
  cluster.destroy()
  process.exit(sig === 'SIGINT' ? 130 : 143)
}
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)
try {
  process.exitCode = await main(cluster)
} catch (err) {
  log(`benchmark failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  cluster.destroy()
}
