/**
 * The measurement behind DEFAULT_TOPOLOGY: the embedded platform on its default database (the
 * embedded PostgreSQL), once per topology (inline, threads, processes) in a child process (the
 * built `bin/run.js up --topology T`, fresh state dir each), saturated from this process by an approximation of the
 * contract's load-test scenario: agent/goal/task users 5:3:2 with the contract's task
 * weights and payloads, ids kept only from 201s, but no think time and a fixed number of
 * virtual users. Topologies run interleaved (forward, then backward, ...); medians are
 * reported. The last line names the best by req/s (p95 breaks ties within 5%). Exit 1 only
 * when the run failed (a server died, nothing answered); error counts are figures.
 *
 *   node --import tsx bench/topology.ts [--seconds 10] [--concurrency 32] [--rounds 2] [--warmup 2] [--json]
 */
import {randomUUID} from 'node:crypto'
import type {Pool} from 'undici'
import {DEFAULT_TOPOLOGY, TOPOLOGIES, type Topology} from '../src/embedded/index.js'
import {
  benchArgs,
  fmt,
  log,
  median,
  pool,
  runBench,
  send,
  startPlatformChild,
  table,
  timedLoop,
  type Call,
  type LoadResult,
  type Outcome,
  type User,
} from './lib.js'

const args = benchArgs({seconds: 10, concurrency: 32, rounds: 2, warmup: 2}, {fractional: ['seconds'], zero: ['warmup']})
const runId = randomUUID().slice(0, 8)

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const int = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1))
/** A draw from [value, weight] pairs. */
function weighted<T>(pairs: Array<[T, number]>): () => T {
  const total = pairs.reduce((n, [, w]) => n + w, 0)
  return () => {
    let r = Math.random() * total
    for (const [v, w] of pairs) if ((r -= w) < 0) return v
    return pairs.at(-1)![0]
  }
}

const agentBody = () => ({
  name: `load-agent-${randomUUID().slice(0, 8)}`,
  agent_type: pick(['simple', 'complex', 'specialized']),
  configuration: {max_tokens: int(100, 2000), temperature: Math.round((0.1 + Math.random() * 0.9) * 100) / 100},
  metadata: {created_by: 'load_test', test_run: runId},
})

/** One virtual user of the scenario (kind by vu: 5 agent, 3 goal, 2 task in every 10), without think time. */
function scenarioUser(vu: number, http: Pool, apiKey: string): User {
  const kind = vu % 10 < 5 ? 'agent' : vu % 10 < 8 ? 'goal' : 'task'
  const headers = {'x-api-key': apiKey, 'content-type': 'application/json'}
  const ids: string[] = []
  let ownAgent: string | undefined
  const call = async (c: Call, keep?: string, then?: (id: string) => void): Promise<Outcome> => {
    const res = await send(http, {...c, headers})
    if (res.status >= 400) return `${c.method} ${c.path.replace(/[0-9a-f-]{36}/, ':id')}: HTTP ${res.status} ${res.text.slice(0, 120)}`
    if (keep && res.status === 201) (then ?? ((id) => ids.push(id)))((JSON.parse(res.text) as Record<string, string>)[keep]!)
    return true
  }
  const createAgent = () => call({method: 'POST', path: '/api/v1/agents/', body: agentBody()}, 'id')
  const some = () => pick(ids)

  if (kind === 'agent') {
    const next = weighted<string>([
      ['create', 5],
      ['list', 10],
      ['get', 3],
      ['patch', 2],
      ['delete', 1],
    ])
    return () => {
      const task = ids.length ? next() : 'create'
      if (task === 'create') return createAgent()
      if (task === 'list') return call({method: 'GET', path: '/api/v1/agents/'})
      if (task === 'get') return call({method: 'GET', path: `/api/v1/agents/${some()}`})
      if (task === 'patch') {
        const body = {status: pick(['active', 'idle', 'busy', 'suspended']), configuration: {max_tokens: int(100, 2000)}}
        return call({method: 'PATCH', path: `/api/v1/agents/${some()}`, body})
      }
      const id = ids.splice(Math.floor(Math.random() * ids.length), 1)[0]!
      return call({method: 'DELETE', path: `/api/v1/agents/${id}`})
    }
  }
  // Goal and task users first create their own agent (retried until it exists).
  const setup = () => call({method: 'POST', path: '/api/v1/agents/', body: agentBody()}, 'id', (id) => (ownAgent = id))
  if (kind === 'goal') {
    const next = weighted<string>([
      ['create', 5],
      ['list', 10],
      ['get', 3],
      ['patch', 2],
    ])
    return () => {
      if (!ownAgent) return setup()
      const task = ids.length ? next() : 'create'
      if (task === 'create') {
        const body = {
          agent_id: ownAgent,
          description: `load test goal ${int(1, 1e6)}`,
          success_criteria: Array.from({length: int(1, 3)}, (_, i) => `criterion ${i + 1}`),
          priority: int(1, 10),
        }
        return call({method: 'POST', path: '/api/v1/goals/', body}, 'goal_id')
      }
      if (task === 'list') return call({method: 'GET', path: '/api/v1/goals/'})
      if (task === 'get') return call({method: 'GET', path: `/api/v1/goals/${some()}`})
      return call({
        method: 'PATCH',
        path: `/api/v1/goals/${some()}`,
        body: {status: pick(['pending', 'in_progress', 'completed', 'failed']), priority: int(1, 10)},
      })
    }
  }
  const next = weighted<string>([
    ['create', 5],
    ['get', 10],
    ['patch', 2],
  ])
  return () => {
    if (!ownAgent) return setup()
    const task = ids.length ? next() : 'create'
    if (task === 'create') {
      const body = {
        plan_id: randomUUID(),
        agent_id: ownAgent,
        description: `load test task ${int(1, 1e6)}`,
        task_type: pick(['analysis', 'generation', 'execution']),
        input_data: {content: 'load test input', parameters: {priority: int(1, 10)}},
      }
      return call({method: 'POST', path: '/api/v1/tasks/', body}, 'task_id')
    }
    if (task === 'get') return call({method: 'GET', path: `/api/v1/tasks/${some()}`})
    const body = {
      status: pick(['pending', 'running', 'completed', 'failed']),
      output_data: {result: 'done', timestamp: new Date().toISOString()},
    }
    return call({method: 'PATCH', path: `/api/v1/tasks/${some()}`, body})
  }
}

async function measure(topology: Topology): Promise<LoadResult> {
  const platform = await startPlatformChild({topology})
  try {
    const http = pool(platform.l09, args.concurrency)
    const user = (vu: number) => scenarioUser(vu, http, platform.apiKey)
    if (args.warmup > 0) await timedLoop({seconds: args.warmup, concurrency: args.concurrency, user})
    const run = await timedLoop({seconds: args.seconds, concurrency: args.concurrency, user})
    await http.destroy()
    const died = platform.exited()
    if (died) throw new Error(`the ${topology} platform ${died}`)
    if (run.ok === 0) throw new Error(`no request to the ${topology} platform succeeded (first error: ${run.firstError})`)
    return run
  } finally {
    await platform.stop()
  }
}

await runBench(async () => {
  const order = Array.from({length: args.rounds}, (_, r) => (r % 2 ? [...TOPOLOGIES].reverse() : [...TOPOLOGIES])).flat()
  const runs: Array<{topology: Topology; run: LoadResult}> = []
  for (const topology of order) {
    log(`${topology}: starting on the embedded PostgreSQL, ${args.concurrency} users for ${args.seconds} s`)
    const run = await measure(topology)
    runs.push({topology, run})
    const kinds = Object.entries(run.errorsBy).map(([k, n]) => `${n} x ${k}`)
    log(
      `${topology}: ${fmt(run.rate)} req/s, p50 ${fmt(run.p50Ms, 1)} ms, p95 ${fmt(run.p95Ms, 1)} ms, p99 ${fmt(run.p99Ms, 1)} ms, ` +
        `errors ${run.errors}${kinds.length ? ` (${kinds.join('; ')})` : ''}`,
    )
  }
  const results = TOPOLOGIES.map((topology) => {
    const mine = runs.filter((r) => r.topology === topology).map((r) => r.run)
    const m = (f: (r: LoadResult) => number) => median(mine.map(f))
    return {
      topology,
      rate: m((r) => r.rate),
      p50Ms: m((r) => r.p50Ms),
      p95Ms: m((r) => r.p95Ms),
      p99Ms: m((r) => r.p99Ms),
      errors: m((r) => r.errors),
      rates: mine.map((r) => Math.round(r.rate)),
      firstError: mine.find((r) => r.firstError)?.firstError,
    }
  })
  const top = Math.max(...results.map((r) => r.rate))
  const best = results.filter((r) => r.rate >= top * 0.95).sort((a, b) => a.p95Ms - b.p95Ms)[0]!
  const verdict =
    `best topology: ${best.topology} (${fmt(best.rate)} req/s, p95 ${fmt(best.p95Ms, 1)} ms); ` +
    `DEFAULT_TOPOLOGY is ` +
    `${DEFAULT_TOPOLOGY}${best.topology === DEFAULT_TOPOLOGY ? ', the best' : `: the measurement favours ${best.topology}`}`

  if (args.json) {
    const {seconds, concurrency, rounds, warmup} = args
    const perRun = runs.map(({topology, run}) => ({
      topology,
      rate: run.rate,
      p50Ms: run.p50Ms,
      p95Ms: run.p95Ms,
      p99Ms: run.p99Ms,
      ok: run.ok,
      errors: run.errors,
      errorsBy: run.errorsBy,
      firstError: run.firstError,
    }))
    const record = {
      benchmark: 'topology',
      database: 'postgresql',
      seconds,
      concurrency,
      rounds,
      warmup,
      order,
      runs: perRun,
      results,
      best: best.topology,
      defaultTopology: DEFAULT_TOPOLOGY,
      verdict,
    }
    process.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
    return
  }
  console.log(
    `Load scenario (agent/goal/task 5:3:2, no think time) through L09 on the embedded PostgreSQL, ${args.concurrency} users, ` +
      `${args.rounds} x ${args.seconds} s per topology (medians)`,
  )
  const rows = results.map((r) => [
    r.topology,
    fmt(r.rate),
    fmt(r.p50Ms, 1),
    fmt(r.p95Ms, 1),
    fmt(r.p99Ms, 1),
    fmt(r.errors),
    r.rates.join(' '),
  ])
  console.log(table(['topology', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'runs req/s'], rows))
  const kinds: Record<string, number> = {}
  for (const {run} of runs) for (const [k, n] of Object.entries(run.errorsBy)) kinds[k] = (kinds[k] ?? 0) + n
  if (Object.keys(kinds).length)
    console.log(
      `errors in all runs: ${Object.entries(kinds)
        .map(([k, n]) => `${n} x ${k}`)
        .join('; ')}`,
    )
  console.log(`verdict: ${verdict}`)
})
