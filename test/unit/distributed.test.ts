/**
 * Distributed load runs: the coordinator's protocol over real HTTP sockets on 127.0.0.1, with
 * generators that are the real runGenerator (worker threads and all) started in this process by
 * a launcher, or scripted clients that speak the protocol by hand where a test needs a generator
 * to misbehave (go silent, register late, bring a wrong token). The target is the fake L09
 * (test/support/fake-target.ts), so that requests and failures are the same from run to run;
 * the e2e tier runs the same through bin/run.js processes against the real platform.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import * as hdr from 'hdr-histogram-js'
import {isPlatformError} from '../../src/core/index.js'
import {
  buildCoordinator,
  contractScenario,
  distributedFleet,
  effectiveThresholds,
  runGenerator,
  runLoad,
  swarmCoordinatorAddress,
  type Fleet,
  type Launcher,
  type Plan,
  type RunOptions,
  type Summary,
} from '../../src/loadtest/index.js'
import {IntervalRecorder, newHistogram} from '../../src/loadtest/stats.js'
import {startFakeTarget, type FakeTarget} from '../support/fake-target.js'
import {freePort} from '../support/postgres.js'

let target: FakeTarget
beforeAll(async () => {
  target = await startFakeTarget()
})
afterAll(() => target.close())

/** A launcher that runs the real generator code in this process, one per node name. */
function inProcess(nodes: string[], apiKey?: string): Launcher & {results: Array<Promise<unknown>>} {
  const results: Array<Promise<unknown>> = []
  return {
    where: 'in this process',
    results,
    launch: async (run) => {
      for (const node of nodes) {
        const r = runGenerator({coordinator: run.coordinator, token: run.token, apiKey: apiKey ?? run.apiKey, node})
        r.catch(() => {})
        results.push(r)
      }
    },
    remove: async () => {},
  }
}

const base = (over: Partial<RunOptions> = {}): RunOptions => ({
  target: target.url,
  apiKey: target.apiKey,
  scenario: contractScenario,
  seed: 42,
  thresholds: effectiveThresholds([]),
  intervalS: 1,
  profile: {name: 'custom', users: 4, spawnRate: 100, durationS: 3},
  ...over,
})

/** A run through the coordinator with the given generators. */
async function distributed(launcher: Launcher, generators: number, over: Partial<RunOptions> = {}): Promise<Summary> {
  const d = await distributedFleet({generators, address: '127.0.0.1', intervalS: 1, launcher, log: () => {}, readyTimeoutMs: 20_000})
  try {
    return await runLoad(base({...over, fleet: d.fleet}))
  } finally {
    await d.close()
  }
}

const byEndpoint = (s: Summary) => Object.fromEntries(s.endpoints.map((e) => [e.endpoint, {count: e.count, failures: e.failures}]))
const groups = (s: Summary) =>
  Object.fromEntries(
    s.failures.map((f) => [`${f.endpoint} ${f.status} ${f.message}`, f.count]).sort(([a], [b]) => String(a).localeCompare(String(b))),
  )

describe('a distributed run', () => {
  it('registers every generator, starts them together and merges their reports into one result with a row each', async () => {
    const s = await distributed(inProcess(['node-a', 'node-b']), 2, {rate: 40})
    expect(s.verdict.status, s.verdict.sentence).toBe('PASSED')
    expect(s.generators!.map((g) => [g.name, g.node, g.valid])).toEqual([
      ['generator 1', 'node-a', true],
      ['generator 2', 'node-b', true],
    ])
    // Each got half of the open-model rate, and the merged count is the sum of theirs.
    for (const g of s.generators!) expect(g.count).toBeGreaterThan(40)
    expect(s.generators!.reduce((n, g) => n + g.count, 0)).toBe(s.total.count)
    expect(s.total.count).toBe(120) // 40 req/s for 3 s: every arrival was sent, by one generator or the other
    expect(s.series.length).toBeGreaterThanOrEqual(2) // reports came every interval, not only at the end
  }, 60_000)

  it('sends the same requests with 2 generators as 1 generator of 2 threads: counts and failure groups equal', async () => {
    target.set('PATCH /api/v1/agents/:id', {status: 500})
    try {
      const one = await distributed(inProcess(['solo']), 1, {rate: 40, workers: 2})
      const two = await distributed(inProcess(['a', 'b']), 2, {rate: 40})
      expect(one.total.count).toBe(120) // every arrival of 40 req/s for 3 s, from 2 threads: each thread's share is half the rate
      expect(byEndpoint(two)).toEqual(byEndpoint(one))
      expect(two.total.failures).toBeGreaterThan(0)
      expect(groups(two)).toEqual(groups(one))
      // The failure groups were summed across generators, not taken from one.
      expect(two.failures.reduce((n, f) => n + f.count, 0)).toBe(two.total.failures)
    } finally {
      target.reset()
    }
  }, 90_000)

  it('fails the run INVALID (exit 5), naming the generator, when one stops reporting; the others are stopped', async () => {
    // One real generator, and one that registers, gets ready, reports once and then falls silent (as a killed one does).
    const silent: Launcher = {
      where: 'here',
      launch: async (run) => {
        await inProcess(['node-a']).launch(run, () => {})
        void scripted(run.coordinator, run.token, 'node-x', {reports: 1})
      },
      remove: async () => {},
    }
    const s = await distributed(silent, 2, {profile: {name: 'custom', users: 4, spawnRate: 100, durationS: 60}})
    expect(s.verdict).toMatchObject({status: 'INVALID', exitCode: 5})
    const lost = s.generators!.find((g) => !g.valid)!
    expect(lost).toMatchObject({node: 'node-x', lost: expect.stringMatching(/^generator \d on node node-x stopped reporting at \d+ s$/)})
    expect(s.verdict.sentence).toContain(lost.lost)
    expect(s.duration).toBeLessThan(30) // three silent intervals, not the planned minute
  }, 60_000)

  it('a saturated generator makes the run INVALID (exit 5), naming the generator and its node', async () => {
    // Test fault injection: each generator thread busy 45 ms of every 50 (as a generator past its machine's capacity).
    const s = await distributed(inProcess(['node-a', 'node-b']), 2, {starveMs: 45})
    expect(s.verdict).toMatchObject({status: 'INVALID', exitCode: 5})
    expect(s.validity.reasons.some((r) => r.startsWith('generator 1 on node node-a: generator event loop'))).toBe(true)
    expect(s.validity.reasons.some((r) => r.startsWith('generator 2 on node node-b: generator event loop'))).toBe(true)
    expect(s.generators!.map((g) => g.valid)).toEqual([false, false])
  }, 60_000)

  it('refuses a late registration (409) and a wrong token (401) in the error shape, and counts neither', async () => {
    const coordinator = buildCoordinator({token: 'right-token', expected: 1, intervalS: 1, readyTimeoutMs: 10_000})
    await new Promise<void>((r) => coordinator.server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(coordinator.server.address() as {port: number}).port}`
    try {
      const enrolled = coordinator.enrol(planFor(target.url))
      const wrong = await post(url, 'wrong-token', 'register', {node: 'n'})
      expect(wrong.status).toBe(401)
      expect(wrong.body).toEqual({error: 'UNAUTHORIZED', message: 'missing or wrong run token'})
      expect((await post(url, undefined, 'register', {node: 'n'})).status).toBe(401)
      const first = await post(url, 'right-token', 'register', {node: 'n1'})
      expect(first).toMatchObject({status: 200, body: {index: 0, of: 1, intervalS: 1, plan: {target: target.url}}})
      expect(await enrolled).toHaveLength(1)
      const late = await post(url, 'right-token', 'register', {node: 'n2'})
      expect(late.status).toBe(409)
      expect(late.body).toMatchObject({error: 'CONFLICT', message: expect.stringContaining('late registration is refused')})
      expect((await post(url, 'right-token', 'report', {index: 5, parts: [], health: {}})).status).toBe(404)
      expect((await post(url, 'right-token', 'report', {index: 0})).status).toBe(400)
      const bad = await post(url, 'right-token', 'report', {index: 0, parts: [{endpoints: {e: {hist: 1}}}], health: {}})
      expect(bad).toMatchObject({status: 400, body: {error: 'BAD_REQUEST'}})
    } finally {
      coordinator.server.close()
    }
  })

  it('fails with GENERATOR_LOST (exit 5) when fewer generators register than the run waits for', async () => {
    const d = await distributedFleet({
      generators: 2,
      address: '127.0.0.1',
      intervalS: 1,
      launcher: inProcess(['only-one']),
      log: () => {},
      readyTimeoutMs: 3000,
    })
    try {
      const err = await runLoad(base({fleet: d.fleet})).catch((e: unknown) => e)
      expect(isPlatformError(err, 'GENERATOR_LOST')).toBe(true)
      expect((err as Error).message).toBe('only 1 of 2 generators registered within 3 s')
      expect((err as {exitCode: number}).exitCode).toBe(5)
    } finally {
      await d.close()
    }
  }, 30_000)

  it('a generator the target refuses fails the run before any load, naming the generator and the reason', async () => {
    const err = await distributed(inProcess(['node-k'], 'not-the-key'), 1).catch((e: unknown) => e)
    expect(isPlatformError(err, 'UNAUTHORIZED')).toBe(true)
    expect((err as Error).message).toBe(`generator 1 on node node-k: the target ${target.url} refused the API key`)
  })

  it('a coordinator address this machine does not have is an environment error (exit 3) naming --coordinator-address', async () => {
    const launcher = inProcess([])
    const err = await distributedFleet({generators: 1, address: '192.0.2.1', intervalS: 1, launcher, log: () => {}}).catch(
      (e: unknown) => e,
    )
    expect(isPlatformError(err, 'ENVIRONMENT_UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toBe('the coordinator cannot listen on 192.0.2.1 (EADDRNOTAVAIL)')
    expect((err as {suggestion: string}).suggestion).toContain('--coordinator-address')
  })

  it('a generator that cannot reach its coordinator says so', async () => {
    const port = await freePort()
    const coordinator = `http://127.0.0.1:${port}`
    const err = await runGenerator({coordinator, token: 't', apiKey: 'k', node: 'n', registerForMs: 600}).catch((e: unknown) => e)
    expect(isPlatformError(err, 'ENVIRONMENT_UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toBe(`cannot reach the coordinator ${coordinator}: ECONNREFUSED`)
  })
})

describe('merged statistics', () => {
  it('percentiles come from the merged histograms of the generators, exact, never averaged', async () => {
    // Two generators with very different latencies: an average of their p99s would be far from the true p99.
    const fast = Array.from({length: 900}, (_, i) => 1 + (i % 10))
    const slow = Array.from({length: 100}, (_, i) => 200 + i)
    const closers: Array<() => Promise<void>> = []
    const fleet: Fleet = async (plan) => {
      const d = await distributedFleet({
        generators: 2,
        address: '127.0.0.1',
        intervalS: 1,
        log: () => {},
        launcher: {
          where: 'scripted',
          launch: async (run) => {
            void scripted(run.coordinator, run.token, 'fast', {values: fast})
            void scripted(run.coordinator, run.token, 'slow', {values: slow})
          },
          remove: async () => {},
        },
      })
      closers.push(() => d.close())
      return d.fleet(plan, {apiKey: 'k'})
    }
    try {
      const s = await runLoad(base({fleet}))
      const all = newHistogram()
      for (const v of [...fast, ...slow]) all.recordValue(Math.round(v * 1000))
      expect(s.total.count).toBe(1000)
      expect(s.total.p99).toBe(all.getValueAtPercentile(99) / 1000)
      expect(s.total.p50).toBe(all.getValueAtPercentile(50) / 1000)
      expect(s.total.p95).toBe(all.getValueAtPercentile(95) / 1000)
      const mean = (s.generators![0]!.p99 + s.generators![1]!.p99) / 2
      expect(Math.abs(mean - s.total.p99)).toBeGreaterThan(50)
      expect(s.generators!.map((g) => g.count)).toEqual([900, 100])
      all.destroy()
    } finally {
      for (const c of closers) await c()
    }
  }, 30_000)
})

describe('swarmCoordinatorAddress', () => {
  const nic = (address: string) => [{address, family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null}] as never
  it("listens on the swarm's node address when this machine has it", () => {
    expect(swarmCoordinatorAddress('10.0.0.5', {eth0: nic('10.0.0.5'), docker_gwbridge: nic('172.18.0.1')})).toBe('10.0.0.5')
  })
  it('on a swarm advertised on loopback, listens on docker_gwbridge, which the tasks leave their node through', () => {
    expect(swarmCoordinatorAddress('127.0.0.1', {lo: nic('127.0.0.1'), docker_gwbridge: nic('172.18.0.1')})).toBe('172.18.0.1')
  })
  it('refuses an address this machine does not have, naming --coordinator-address', () => {
    expect(() => swarmCoordinatorAddress('10.9.9.9', {eth0: nic('10.0.0.5')})).toThrow(/does not have the swarm's node address 10\.9\.9\.9/)
  })
})

function planFor(url: string): Plan {
  return {target: url, users: 1, spawnRate: 1, durationMs: 1000, seed: 1, runId: 'r', timeoutMs: 1000, scenario: 'contract', workers: 1}
}

async function post(url: string, token: string | undefined, path: string, body: object) {
  const res = await fetch(`${url}/v1/${path}`, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...(token ? {authorization: `Bearer ${token}`} : {})},
    body: JSON.stringify(body),
  })
  return {status: res.status, body: (await res.json()) as Record<string, unknown>}
}

/**
 * A generator by hand, for what the real one never does: it reports the given latencies (ms,
 * one endpoint) at the end, or reports `reports` times and then falls silent.
 */
async function scripted(url: string, token: string, node: string, opts: {values?: number[]; reports?: number}): Promise<void> {
  const reg = await post(url, token, 'register', {node})
  const index = reg.body.index as number
  const health = {lagP99Ms: 1, utilisation: 0.1, sends: 0, lateSends: 0}
  const ready = await post(url, token, 'ready', {index})
  await new Promise((r) => setTimeout(r, ready.body.startInMs as number))
  const part = (values: number[]) => {
    const rec = new IntervalRecorder()
    for (const v of values) rec.record('GET /api/v1/agents/', v, false)
    return {endpoints: rec.drain(), failures: [], active: 1, health}
  }
  if (opts.reports !== undefined) {
    for (let i = 0; i < opts.reports; i++) {
      await new Promise((r) => setTimeout(r, 1000))
      await post(url, token, 'report', {index, parts: [part([5])], health})
    }
    return // silent from here on
  }
  await new Promise((r) => setTimeout(r, 1500))
  await post(url, token, 'done', {index, parts: [part(opts.values ?? [])], health})
}

// The histograms cross the wire encoded; decoding one gives back the same counts.
it('an encoded interval decodes to the histogram it was made from', () => {
  const rec = new IntervalRecorder()
  for (let v = 1; v <= 100; v++) rec.record('e', v, false)
  const h = hdr.decodeFromCompressedBase64(rec.drain().e!.hist, 32, false)
  expect(h.totalCount).toBe(100)
  expect(h.getValueAtPercentile(50)).toBeGreaterThanOrEqual(49_950)
  h.destroy()
})
