/**
 * The load runner's pure parts (thresholds, statistics, failure groups, baseline, profiles, RNG, the scenario,
 * the live view, verdicts), and runLoad itself on a scenario given as a module, interrupted, against the fake target.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, expect, it} from 'vitest'
import {liveView, progressLine} from '../../src/cli/loadtest.js'
import {PlatformError} from '../../src/core/index.js'
import {runLoad, verdictOf} from '../../src/loadtest/runner.js'
import {compareToBaseline} from '../../src/loadtest/baseline.js'
import {FailureGroups, failureMessage, normalise} from '../../src/loadtest/failures.js'
import {parseDuration, resolveProfile} from '../../src/loadtest/profiles.js'
import {Rng} from '../../src/loadtest/random.js'
import {
  UserState,
  kindOf,
  loadScenario,
  prepare,
  step,
  type ApiRequest,
  type ApiResponse,
  type Send,
  type UserKind,
} from '../../src/loadtest/scenario.js'
import contract, {AGENT_USER, ENDPOINTS, GOAL_USER, TASK_USER, USER_KINDS} from '../../src/loadtest/scenarios/contract.js'
import {Aggregator, IntervalRecorder} from '../../src/loadtest/stats.js'
import {
  DEFAULT_THRESHOLDS,
  certainFailure,
  effectiveThresholds,
  evaluate,
  parseThreshold,
  type Threshold,
} from '../../src/loadtest/thresholds.js'
import {SUMMARY_VERSION, type EndpointStats, type LatencyStats, type Progress, type Summary} from '../../src/loadtest/types.js'
import {startFakeTarget} from '../support/fake-target.js'

const PATCH_AGENT = 'PATCH /api/v1/agents/:id'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The usage error fn throws (fails the test when it throws nothing or something else). */
function usageError(fn: () => unknown): PlatformError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(PlatformError)
    expect((err as PlatformError).code).toBe('USAGE')
    return err as PlatformError
  }
  throw new Error('expected a usage error, nothing was thrown')
}

const stats = (count: number, failures: number, p95: number, more: Partial<LatencyStats> = {}): LatencyStats => ({
  count,
  failures,
  errorRate: count ? failures / count : 0,
  rps: count / 10,
  min: 1,
  mean: p95 / 2,
  p50: p95 / 3,
  p90: p95 * 0.9,
  p95,
  p99: p95 * 1.5,
  max: p95 * 2,
  ...more,
})
const ep = (endpoint: string, s: LatencyStats): EndpointStats => ({endpoint, ...s})

describe('parseThreshold', () => {
  it.each<[string, Partial<Threshold>]>([
    ['p95<500', {endpoint: undefined, metric: 'p95', op: '<', limit: 500}],
    ['p99<=1s', {metric: 'p99', op: '<=', limit: 1000}],
    ['p90 < 250ms', {metric: 'p90', op: '<', limit: 250}],
    ['max<1.5s', {metric: 'max', limit: 1500}],
    ['mean>=2', {metric: 'mean', op: '>=', limit: 2}],
    ['errors<1%', {metric: 'errors', op: '<', limit: 0.01}],
    ['errors<=0.5%', {metric: 'errors', op: '<=', limit: 0.005}],
    ['PATCH /api/v1/agents/:id p95<300', {endpoint: PATCH_AGENT, metric: 'p95', limit: 300}],
    ['get /api/v1/goals/ P99<2s', {endpoint: 'GET /api/v1/goals/', metric: 'p99', limit: 2000}],
    ['POST /api/v1/tasks/ errors<2%', {endpoint: 'POST /api/v1/tasks/', metric: 'errors', limit: 0.02}],
  ])('%s', (text, want) => {
    expect(parseThreshold(text, ENDPOINTS)).toEqual({endpoint: undefined, op: '<', user: true, ...want})
  })

  it.each([
    ['p42<500', 'unknown metric "p42"'],
    ['latency<500', 'unknown metric "latency"'],
    ['GET /api/v1/nope p95<5', 'unknown endpoint "GET /api/v1/nope"'],
    ['PUT /api/v1/agents/:id p95<5', 'unknown endpoint "PUT /api/v1/agents/:id"'],
    ['GET /api/v1/tasks/ p95<5', 'unknown endpoint'], // the scenario never lists tasks
    ['errors<1', 'an error rate is a percentage'],
    ['errors<5ms', 'an error rate is a percentage'],
    ['p95<5%', 'p95 is a latency'],
    ['p95', 'not of the form'],
    ['p95 500', 'not of the form'],
  ])('%s is a usage error (%s)', (text, why) => {
    const err = usageError(() => parseThreshold(text, ENDPOINTS))
    expect(err.message).toContain(why)
    expect(err.message).toContain(text)
  })
})

describe('effectiveThresholds', () => {
  const user = (text: string) => parseThreshold(text, ENDPOINTS)
  it.each<[string, string[], Array<Partial<Threshold>>]>([
    ['none: the defaults', [], [...DEFAULT_THRESHOLDS]],
    [
      'a p95 of all scopes replaces the default p95',
      ['p95<300'],
      [
        {metric: 'errors', limit: 0.01, user: false},
        {metric: 'p95', limit: 300, user: true},
      ],
    ],
    [
      'an errors threshold replaces the default errors',
      ['errors<5%'],
      [
        {metric: 'p95', limit: 500, user: false},
        {metric: 'errors', limit: 0.05, user: true},
      ],
    ],
    [
      'an endpoint-scoped p95 keeps the default p95 for the rest',
      [`${PATCH_AGENT} p95<300`],
      [
        {metric: 'p95', limit: 500, user: false},
        {metric: 'errors', user: false},
        {endpoint: PATCH_AGENT, metric: 'p95', limit: 300, user: true},
      ],
    ],
    [
      'p99 adds to both defaults',
      ['p99<1s'],
      [
        {metric: 'p95', user: false},
        {metric: 'errors', user: false},
        {metric: 'p99', limit: 1000, user: true},
      ],
    ],
  ])('%s', (_, given, want) => {
    const got = effectiveThresholds(given.map(user))
    expect(got).toHaveLength(want.length)
    want.forEach((w, i) => {
      expect(got[i]).toMatchObject(w)
    })
  })
})

describe('evaluate', () => {
  const total = stats(400, 10, 300)
  const endpoints = [ep(PATCH_AGENT, stats(100, 10, 812.4)), ep('GET /api/v1/agents/', stats(300, 0, 20))]
  const results = evaluate(effectiveThresholds([]), total, endpoints)
  const text = (scope: string, metric: string) => results.find((r) => r.scope === scope && r.metric === metric)

  it('checks each default threshold against the total and every endpoint', () => {
    expect(results.map((r) => `${r.metric} ${r.scope}`)).toEqual([
      'p95 total',
      `p95 ${PATCH_AGENT}`,
      'p95 GET /api/v1/agents/',
      'errors total',
      `errors ${PATCH_AGENT}`,
      'errors GET /api/v1/agents/',
    ])
  })

  it.each([
    ['total', 'p95', true, 'p95 of total 300 ms <= 500 ms'],
    [PATCH_AGENT, 'p95', false, 'p95 of PATCH /api/v1/agents/:id 812 ms > 500 ms'],
    ['GET /api/v1/agents/', 'p95', true, 'p95 of GET /api/v1/agents/ 20 ms <= 500 ms'],
    ['total', 'errors', false, 'errors of total 2.5% >= 1%'],
    [PATCH_AGENT, 'errors', false, 'errors of PATCH /api/v1/agents/:id 10% >= 1%'],
    ['GET /api/v1/agents/', 'errors', true, 'errors of GET /api/v1/agents/ 0% < 1%'],
  ])('%s %s: passed=%s, "%s"', (scope, metric, passed, sentence) => {
    expect(text(scope, metric)).toMatchObject({passed, text: sentence})
  })

  it('fails an endpoint threshold whose endpoint made no requests, saying so', () => {
    const [r] = evaluate([parseThreshold('GET /api/v1/goals/ p95<300', ENDPOINTS)], total, endpoints)
    expect(r).toMatchObject({scope: 'GET /api/v1/goals/', passed: false, text: 'p95 of GET /api/v1/goals/: no requests were made'})
  })

  it('reads the metric the threshold names (p99, max, mean)', () => {
    const s = stats(10, 0, 100, {p99: 700, max: 2500, mean: 40})
    expect(
      evaluate(
        ['p99<600', 'max<2s', 'mean<50'].map((t) => parseThreshold(t, ENDPOINTS)),
        s,
        [],
      ).map((r) => r.text),
    ).toEqual(['p99 of total 700 ms >= 600 ms', 'max of total 2500 ms >= 2000 ms', 'mean of total 40 ms < 50 ms'])
  })
})

describe('certainFailure (Aggregator fed with encoded intervals)', () => {
  type Rec = [endpoint: string, ms: number, failed: boolean]
  const times = (n: number, r: Rec): Rec[] => Array.from({length: n}, () => r)
  /** One interval from two workers, as the runner merges them. */
  function aggregate(a: Rec[], b: Rec[]): Aggregator {
    const agg = new Aggregator()
    const parts = [a, b].map((recs) => {
      const rec = new IntervalRecorder()
      for (const [e, ms, failed] of recs) rec.record(e, ms, failed)
      return rec.drain()
    })
    agg.addInterval(parts, 2, 2, 10)
    return agg
  }
  const th = (...texts: string[]) => texts.map((t) => parseThreshold(t, ENDPOINTS))
  const LIST = 'GET /api/v1/agents/'

  it('merges the workers: counts, failures and latencies per endpoint and in total', () => {
    const agg = aggregate([...times(60, [LIST, 10, false])], [...times(30, [LIST, 20, false]), ...times(10, [PATCH_AGENT, 5, true])])
    expect(agg.scope('total')).toMatchObject({count: 100, failures: 10})
    expect(agg.scope(LIST)).toMatchObject({count: 90, failures: 0})
    expect(agg.scope(PATCH_AGENT)).toMatchObject({count: 10, failures: 10})
    const total = agg.total(2)
    expect(total.max).toBeCloseTo(20, 0)
    expect(total.rps).toBe(50)
  })

  const errorsAgg = () => aggregate(times(50, [LIST, 10, false]), [...times(40, [LIST, 10, false]), ...times(10, [PATCH_AGENT, 10, true])])
  const slowAgg = () => aggregate(times(45, [LIST, 10, false]), [...times(45, [LIST, 10, false]), ...times(10, [LIST, 900, false])])

  it.each<[string, () => Aggregator, Threshold[], number, string | undefined]>([
    ['errors: 10 of at most 200 is certain to stay >= 1%', errorsAgg, th('errors<1%'), 100, 'errors of total is certain to be >= 1%'],
    ['errors: 10 of up to 10,100 could still end < 1%', errorsAgg, th('errors<1%'), 10_000, undefined],
    [
      'an endpoint-scoped errors threshold fails on its own endpoint',
      errorsAgg,
      th(`${PATCH_AGENT} errors<50%`),
      5,
      `errors of ${PATCH_AGENT} is certain to be >= 50%`,
    ],
    ['p95: 10 of 100 over the limit and nothing to come', slowAgg, th('p95<=500'), 0, 'p95 of total is certain to exceed 500 ms'],
    ['p95: 10 slow requests are under 5% of 1,100', slowAgg, th('p95<=500'), 1000, undefined],
    ['p95 per endpoint: the slow endpoint is named', slowAgg, th(`${LIST} p99<800`), 10, `p99 of ${LIST} is certain to exceed 800 ms`],
    ['max is certain as soon as one request is over', slowAgg, th('max<1s', 'max<500'), 1e9, 'max of total is certain to be >= 500 ms'],
    ['a lower limit (>) is never certain', slowAgg, th('p95>1000', 'mean>=5s'), 0, undefined],
  ])('%s', (_, agg, thresholds, maxRemaining, want) => {
    expect(certainFailure(thresholds, agg(), ENDPOINTS, maxRemaining)).toBe(want)
  })
})

describe('failure messages and groups', () => {
  it.each([
    ['boom for agent 3f2a5c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b', 'boom for agent <uuid>'],
    ['boom for agent 9E1D2C3B-4A5F-4E6D-8C7B-6A5F4E3D2C1B', 'boom for agent <uuid>'],
    ['object 5f3e9a0b12cd77ef not found', 'object <id> not found'],
    ['timeout after 30000 ms', 'timeout after <n> ms'],
    ['row 12 of 4096 (1.5%)', 'row <n> of <n> (<n>%)'],
    ['CONFLICT: feedface deadbeef stays', 'CONFLICT: feedface deadbeef stays'], // hex-looking words without digits are words
    // What tells causes apart stays: the service's name, host and port, the route, the code.
    ['the data layer (L01) at http://127.0.0.1:8001 is unavailable', 'the data layer (L01) at http://127.0.0.1:8001 is unavailable'],
    [
      'UPSTREAM_UNAVAILABLE: L01 at http://l01-data-layer:8001 did not answer in 5000 ms',
      'UPSTREAM_UNAVAILABLE: L01 at http://l01-data-layer:8001 did not answer in <n> ms',
    ],
    ['connect ECONNREFUSED 127.0.0.1:8009', 'connect ECONNREFUSED 127.0.0.1:8009'],
    ['connect ECONNREFUSED [::1]:8001', 'connect ECONNREFUSED [::1]:8001'],
    [
      'GET http://127.0.0.1:8009/api/v1/agents/3f2a5c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b: HTTP 404',
      'GET http://127.0.0.1:8009/api/v1/agents/<uuid>: HTTP <n>',
    ],
    ['NOT_FOUND: no route GET /api/v1/agents/123/x?limit=5', 'NOT_FOUND: no route GET /api/v1/agents/<n>/x?limit=<n>'],
  ])('normalise(%j) = %j', (message, want) => {
    expect(normalise(message)).toBe(want)
  })

  it('normalises two messages that differ only by ids to the same text, and cuts long ones', () => {
    const a = 'INTERNAL: agent 3f2a5c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b failed at step 3 (ref 0a1b2c3d4e5f6071)'
    const b = 'INTERNAL: agent 0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a failed at step 17 (ref ffee00112233aabb)'
    expect(normalise(a)).toBe(normalise(b))
    expect(normalise('x'.repeat(1000))).toHaveLength(300)
  })

  it.each<[string, ApiResponse, string | undefined, string]>([
    ['error body', {status: 500, body: {error: 'INTERNAL', message: 'boom'}}, undefined, 'INTERNAL: boom'],
    ['message only', {status: 409, body: {message: 'taken'}}, undefined, 'taken'],
    ['text body', {status: 502, body: '<html>bad gateway</html>'}, undefined, '<html>bad gateway</html>'],
    ['no body', {status: 503}, undefined, 'HTTP 503'],
    ['no response', {status: null}, 'ECONNREFUSED', 'ECONNREFUSED'],
  ])('failureMessage: %s', (_, res, transport, want) => {
    expect(failureMessage(res, transport)).toBe(want)
  })

  const req = (id: string): ApiRequest => ({endpoint: PATCH_AGENT, method: 'PATCH', path: `/api/v1/agents/${id}`, body: {status: 'idle'}})
  const res = (status: number, id: string): ApiResponse => ({status, body: {error: 'INTERNAL', message: `boom for agent ${id}`}})
  const ids = ['3f2a5c1e-0b7d-4e5f-9a8b-1c2d3e4f5a6b', '0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a', '11111111-2222-4333-8444-555555555555']
  function add(g: FailureGroups, status: number, id: string, t: number) {
    const r = res(status, id)
    g.add(req(id), r, failureMessage(r), {t, users: 7})
  }

  it('groups by endpoint x status x normalised message, keeping the first sample', () => {
    const g = new FailureGroups()
    ids.forEach((id, i) => {
      add(g, 500, id, 1 + i)
    })
    add(g, 503, ids[0]!, 9)
    const list = g.list()
    expect(list).toHaveLength(2)
    expect(list[0]).toEqual({
      endpoint: PATCH_AGENT,
      status: 500,
      message: 'INTERNAL: boom for agent <uuid>',
      count: 3,
      firstSeen: {t: 1, users: 7},
      sample: {request: {method: 'PATCH', url: `/api/v1/agents/${ids[0]}`, body: {status: 'idle'}}, response: res(500, ids[0]!)},
    })
    expect(list[1]).toMatchObject({status: 503, count: 1})
  })

  it('merges groups from several workers: counts add up, the earliest first-seen and its sample win, most frequent first', () => {
    const a = new FailureGroups()
    add(a, 500, ids[0]!, 5)
    add(a, 500, ids[1]!, 6)
    add(a, 404, ids[2]!, 1)
    const b = new FailureGroups()
    add(b, 500, ids[2]!, 2)
    const main = new FailureGroups()
    main.merge(a.drain())
    main.merge(b.drain())
    expect(a.drain()).toEqual([]) // drain forgets what it handed over
    const [first, second] = main.list()
    expect(first).toMatchObject({status: 500, count: 3, firstSeen: {t: 2}, sample: {request: {url: `/api/v1/agents/${ids[2]}`}}})
    expect(second).toMatchObject({status: 404, count: 1})
    expect(main.list()).toHaveLength(2)
  })

  it('one cause is one group, whatever its ids and timings; another host, port, route or code is another group', () => {
    const g = new FailureGroups()
    const fail = (endpoint: string, message: string) =>
      g.add(
        {endpoint, method: 'GET', path: '/api/v1/agents/'},
        {status: 503, body: {error: 'UPSTREAM_UNAVAILABLE', message}},
        `UPSTREAM_UNAVAILABLE: ${message}`,
        {t: 1, users: 1},
      )
    const LIST = 'GET /api/v1/agents/'
    for (let i = 0; i < 11; i++)
      fail(LIST, `the data layer (L01) at http://127.0.0.1:8001 did not answer within ${5000 + i} ms (request ${ids[i % 3]})`)
    fail(LIST, 'the data layer (L01) at http://127.0.0.1:8002 did not answer within 5000 ms (request x)')
    fail(LIST, 'the data layer (L01) at http://10.0.0.7:8001 did not answer within 5000 ms (request x)')
    fail('GET /api/v1/goals/', 'the data layer (L01) at http://127.0.0.1:8001 did not answer within 5000 ms (request x)')
    g.add(
      {endpoint: LIST, method: 'GET', path: '/'},
      {status: 503, body: {}},
      'DATABASE_UNAVAILABLE: the data layer (L01) at http://127.0.0.1:8001',
      {t: 1, users: 1},
    )
    const list = g.list()
    expect(list.map((x) => x.count)).toEqual([11, 1, 1, 1, 1])
    expect(list[0]!.message).toBe(
      'UPSTREAM_UNAVAILABLE: the data layer (L01) at http://127.0.0.1:8001 did not answer within <n> ms (request <uuid>)',
    )
  })

  it('keeps a huge response body small in the sample', () => {
    const g = new FailureGroups()
    g.add(req(ids[0]!), {status: 500, body: {blob: 'x'.repeat(10_000)}}, 'big', {t: 0, users: 1})
    const body = g.list()[0]!.sample.response.body
    expect(typeof body).toBe('string')
    expect((body as string).length).toBeLessThan(2200)
  })
})

describe('compareToBaseline', () => {
  const GET = 'GET /api/v1/agents/'
  function summary(total: LatencyStats, endpoints: EndpointStats[] = []): Summary {
    return {
      version: SUMMARY_VERSION,
      profile: 'custom',
      target: 'http://x',
      startedAt: '2026-01-01T00:00:00.000Z',
      duration: 10,
      users: 1,
      spawnRate: 1,
      model: 'closed',
      seed: 1,
      total,
      endpoints,
      series: [],
      failures: [],
      thresholds: [],
      validity: {valid: true, reasons: [], eventLoopLagP99Ms: 1, utilisation: 0.1, lateSends: 0, sends: 1},
      verdict: {status: 'PASSED', sentence: 'PASSED', exitCode: 0, aborted: false},
    }
  }
  const run = (p95: number, errors = 0, endpoints: EndpointStats[] = []) => summary(stats(1000, errors, p95), endpoints)

  it.each<[string, Summary, Summary, boolean]>([
    ['the same figures pass', run(100), run(100), false],
    ['p95 within the 20% tolerance passes', run(100), run(115), false],
    ['p95 beyond the tolerance regresses', run(100), run(130), true],
    ['a p95 rise under the 5 ms floor is noise, whatever the ratio', run(2), run(6.5), false],
    ['a p95 rise over the floor and the ratio regresses', run(2), run(7.5), true],
    ['a faster run passes', run(100), run(40), false],
    ['errors rising by under 0.5 points pass', run(100, 0), run(100, 4), false],
    ['errors rising by more regress', run(100, 0), run(100, 20), true],
    ['errors within the tolerance of a high baseline pass', run(100, 100), run(100, 115), false],
    [
      'an endpoint that regressed fails the run',
      run(100, 0, [ep(GET, stats(500, 0, 50))]),
      run(100, 0, [ep(GET, stats(500, 0, 90))]),
      true,
    ],
    ['an endpoint the baseline never saw is not compared', run(100), run(100, 0, [ep(GET, stats(500, 0, 900))]), false],
  ])('%s', (_, base, cur, regressed) => {
    const c = compareToBaseline(cur, base, '/tmp/base.json', 0.2)
    expect(c.regressed).toBe(regressed)
    expect(c.changes.some((x) => x.regressed)).toBe(regressed)
    expect(c).toMatchObject({file: '/tmp/base.json', tolerance: 0.2})
  })

  it('lists p95 and errors for the total and every common endpoint', () => {
    const c = compareToBaseline(run(130, 0, [ep(GET, stats(10, 0, 50))]), run(100, 0, [ep(GET, stats(10, 0, 50))]), 'b.json', 0.2)
    expect(c.changes.map((x) => `${x.scope} ${x.metric}`)).toEqual(['total p95', 'total errors', `${GET} p95`, `${GET} errors`])
    expect(c.changes[0]).toEqual({scope: 'total', metric: 'p95', baseline: 100, current: 130, ratio: 1.3, regressed: true})
  })
})

describe('profiles and durations', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['1.5s', 1.5],
    ['500ms', 0.5],
    ['5m', 300],
    ['1h30m', 5400],
    ['1m30s', 90],
    [' 10s ', 10],
  ])('parseDuration(%j) = %d s', (text, s) => {
    expect(parseDuration(text)).toBe(s)
  })

  it.each(['soon', '10x', '', 's', '10 s', '5s5', '-5s'])('parseDuration(%j) is a usage error', (text) => {
    expect(usageError(() => parseDuration(text)).message).toContain('is not a duration')
  })

  // The contract's profiles: users / spawn rate per s / duration.
  it.each([
    ['smoke', 10, 5, 60],
    ['normal', 50, 10, 300],
    ['peak', 200, 20, 600],
    ['endurance', 100, 10, 1800],
  ])('%s is %d users at %d/s for %d s', (profile, users, spawnRate, durationS) => {
    expect(resolveProfile({profile})).toEqual({name: profile, users, spawnRate, durationS})
  })

  it('overrides a named profile and builds a custom one', () => {
    expect(resolveProfile({profile: 'smoke', duration: '10s'})).toEqual({name: 'smoke', users: 10, spawnRate: 5, durationS: 10})
    expect(resolveProfile({profile: 'peak', users: 300})).toMatchObject({users: 300, spawnRate: 20, durationS: 600})
    expect(resolveProfile({profile: 'custom', users: 40, spawnRate: 8, duration: '2m'})).toEqual({
      name: 'custom',
      users: 40,
      spawnRate: 8,
      durationS: 120,
    })
  })

  it.each([
    [{profile: 'custom', spawnRate: 5, duration: '1m'}, 'needs --users, --spawn-rate and --duration'],
    [{profile: 'custom', users: 5, duration: '1m'}, 'needs --users, --spawn-rate and --duration'],
    [{profile: 'custom', users: 5, spawnRate: 5}, 'needs --users, --spawn-rate and --duration'],
    [{profile: 'nonsense'}, 'unknown profile "nonsense"'],
    [{profile: 'custom', users: 0, spawnRate: 5, duration: '1m'}, 'must be positive'],
    [{profile: 'smoke', duration: '0s'}, 'must be positive'],
  ])('%j is a usage error', (input, why) => {
    expect(usageError(() => resolveProfile(input)).message).toContain(why)
  })
})

describe('Rng', () => {
  const draw = (r: Rng, n = 50) => Array.from({length: n}, () => r.next())

  it('gives the same sequence for the same seed and another for another seed', () => {
    expect(draw(new Rng(42))).toEqual(draw(new Rng(42)))
    expect(draw(new Rng(42))).not.toEqual(draw(new Rng(43)))
    expect(new Set(draw(new Rng(0))).size).toBe(50) // seed 0 is not stuck
    const f = (seed: number, n: number) => draw(new Rng(seed).fork(n), 10)
    expect(f(7, 3)).toEqual(f(7, 3))
    expect(f(7, 3)).not.toEqual(f(7, 4))
    // at(n) depends on the seed and n, not on what was drawn before.
    const used = new Rng(7)
    draw(used)
    expect(draw(used.at(5), 10)).toEqual(draw(new Rng(7).at(5), 10))
    expect(draw(new Rng(7).at(5), 10)).not.toEqual(draw(new Rng(7).at(6), 10))
  })

  it('keeps int, float, pick and weighted within their ranges and reaches both ends', () => {
    const r = new Rng(1)
    const ints = Array.from({length: 2000}, () => r.int(1, 3))
    expect(new Set(ints)).toEqual(new Set([1, 2, 3]))
    const floats = Array.from({length: 2000}, () => r.float(0.1, 1.0))
    expect(Math.min(...floats)).toBeGreaterThanOrEqual(0.1)
    expect(Math.max(...floats)).toBeLessThanOrEqual(1.0)
    expect(floats.every((f) => Number(f.toFixed(2)) === f)).toBe(true)
    const picks = Array.from(
      {length: 3000},
      () =>
        r.weighted([
          {n: 'a', weight: 5},
          {n: 'b', weight: 3},
          {n: 'c', weight: 2},
        ]).n,
    )
    const share = (n: string) => picks.filter((p) => p === n).length / picks.length
    expect(share('a')).toBeCloseTo(0.5, 1)
    expect(share('b')).toBeCloseTo(0.3, 1)
    expect(share('c')).toBeCloseTo(0.2, 1)
  })

  it('makes version-4 UUIDs', () => {
    const r = new Rng(9)
    const ids = Array.from({length: 100}, () => r.uuid())
    expect(ids.every((u) => UUID.test(u))).toBe(true)
    expect(new Set(ids).size).toBe(100)
  })
})

describe('user kinds', () => {
  it('every ten consecutive users are exactly 5 agent, 3 goal and 2 task users', () => {
    for (let start = 0; start < 30; start++) {
      const counts: Record<string, number> = {agent: 0, goal: 0, task: 0}
      for (let i = start; i < start + 10; i++) counts[kindOf(USER_KINDS, i).name]!++
      expect(counts, `users ${start}..${start + 9}`).toEqual({agent: 5, goal: 3, task: 2})
    }
  })

  it('interleaves any integer weights exactly: every sum-of-weights users hold each kind by its weight', () => {
    const kinds: UserKind[] = [
      {name: 'a', weight: 1, tasks: []},
      {name: 'b', weight: 3, tasks: []},
      {name: 'c', weight: 2, tasks: []},
    ]
    for (let start = 0; start < 12; start++) {
      const names = Array.from({length: 6}, (_, i) => kindOf(kinds, start + i).name)
      expect(names.filter((n) => n === 'a')).toHaveLength(1)
      expect(names.filter((n) => n === 'b')).toHaveLength(3)
      expect(names.filter((n) => n === 'c')).toHaveLength(2)
    }
    expect(kindOf(kinds, 0).name).toBe('b') // the heaviest kind comes first
  })

  it('has the contract weights for kinds and tasks', () => {
    expect(USER_KINDS.map((k) => [k.name, k.weight])).toEqual([
      ['agent', 5],
      ['goal', 3],
      ['task', 2],
    ])
    const weights = (k: UserKind) => k.tasks.map((t) => t.weight)
    expect(weights(AGENT_USER)).toEqual([5, 10, 3, 2, 1]) // create, list, get, patch, delete
    expect(weights(GOAL_USER)).toEqual([5, 10, 3, 2]) // create, list, get, patch
    expect(weights(TASK_USER)).toEqual([5, 10, 2]) // create, get, patch
  })
})

describe('the scenario: payloads and id bookkeeping', () => {
  const RUN = 'run-0001'
  const ID_KEY = {agents: 'id', goals: 'goal_id', tasks: 'task_id'} as const
  type Coll = keyof typeof ID_KEY
  const ROUTE = /^\/api\/v1\/(agents|goals|tasks)\/(.*)$/
  const PARAM = {agents: ':id', goals: ':goal_id', tasks: ':task_id'} as const
  const oneOf = (v: unknown, xs: readonly unknown[]) => expect(xs).toContain(v)
  const int = (v: unknown, lo: number, hi: number) => {
    expect(Number.isInteger(v)).toBe(true)
    expect(v as number).toBeGreaterThanOrEqual(lo)
    expect(v as number).toBeLessThanOrEqual(hi)
  }

  interface Exchange {
    req: ApiRequest
    res: ApiResponse
  }

  /**
   * A scripted target for one user (a plain function, no mock library): creates get, in
   * turn, 201, 409, 201, 500, 200 (from `offset`), and the 409/500/200 bodies carry ids too,
   * which must never be used. Records what was issued in a 201 and every exchange.
   */
  function scriptedTarget(offset: number) {
    const STATUSES = [201, 409, 201, 500, 200]
    const issued: Record<Coll, Set<string>> = {agents: new Set(), goals: new Set(), tasks: new Set()}
    const decoys = new Set<string>()
    const log: Exchange[] = []
    let creates = offset
    let n = 0
    const fresh = () => `${offset.toString(16).padStart(8, '0')}-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`
    const send: Send = async (req) => {
      const coll = req.path.split('/')[3] as Coll
      let res: ApiResponse
      if (req.method === 'POST') {
        const status = STATUSES[creates++ % STATUSES.length]!
        const id = fresh()
        if (status === 201) {
          issued[coll].add(id)
          res = {status, body: {...(req.body as object), [ID_KEY[coll]]: id}}
        } else {
          decoys.add(id)
          const other = fresh()
          decoys.add(other)
          res = {
            status,
            body: {
              error: status === 409 ? 'CONFLICT' : 'INTERNAL',
              message: `${coll} ${id} exists`,
              id,
              goal_id: id,
              task_id: other,
              agent_id: other,
            },
          }
        }
      } else
        res = {
          status: req.method === 'DELETE' ? 204 : 200,
          body: req.method === 'GET' && !ROUTE.test(req.path) ? {items: [], total: 0, limit: 100, offset: 0} : {},
        }
      log.push({req, res})
      return res
    }
    return {send, issued, decoys, log}
  }

  /** Checks one request's payload against the contract. */
  function checkPayload({req}: Exchange) {
    // biome-ignore lint/suspicious/noExplicitAny: the payload is checked field by field against the contract
    const b = req.body as Record<string, any> | undefined
    switch (req.endpoint) {
      case 'POST /api/v1/agents/':
        expect(Object.keys(b!).sort()).toEqual(['agent_type', 'configuration', 'metadata', 'name'])
        expect(b!.name).toMatch(/\S/)
        oneOf(b!.agent_type, ['simple', 'complex', 'specialized'])
        int(b!.configuration.max_tokens, 100, 2000)
        expect(b!.configuration.temperature).toBeGreaterThanOrEqual(0.1)
        expect(b!.configuration.temperature).toBeLessThanOrEqual(1.0)
        expect(b!.metadata).toEqual({created_by: 'load_test', test_run: RUN})
        break
      case 'PATCH /api/v1/agents/:id':
        expect(Object.keys(b!).sort()).toEqual(['configuration', 'status'])
        oneOf(b!.status, ['active', 'idle', 'busy', 'suspended'])
        expect(Object.keys(b!.configuration)).toEqual(['max_tokens'])
        int(b!.configuration.max_tokens, 100, 2000)
        break
      case 'POST /api/v1/goals/':
        expect(b!.description).toMatch(/\S/)
        expect(Array.isArray(b!.success_criteria)).toBe(true)
        int(b!.success_criteria.length, 1, 3)
        for (const c of b!.success_criteria) expect(c).toMatch(/\S/)
        int(b!.priority, 1, 10)
        break
      case 'PATCH /api/v1/goals/:goal_id':
        expect(Object.keys(b!).sort()).toEqual(['priority', 'status'])
        oneOf(b!.status, ['pending', 'in_progress', 'completed', 'failed'])
        int(b!.priority, 1, 10)
        break
      case 'POST /api/v1/tasks/':
        expect(typeof b!.plan_id).toBe('string')
        expect(b!.plan_id).toMatch(UUID)
        expect(b!.description).toMatch(/\S/)
        oneOf(b!.task_type, ['analysis', 'generation', 'execution'])
        expect(typeof b!.input_data.content).toBe('string')
        int(b!.input_data.parameters.priority, 1, 10)
        break
      case 'PATCH /api/v1/tasks/:task_id':
        expect(Object.keys(b!).sort()).toEqual(['output_data', 'status'])
        oneOf(b!.status, ['pending', 'running', 'completed', 'failed'])
        expect(typeof b!.output_data.result).toBe('string')
        expect(new Date(b!.output_data.timestamp).toISOString()).toBe(b!.output_data.timestamp)
        break
      default:
        expect(b, req.endpoint).toBeUndefined() // GET and DELETE send no body
    }
  }

  const EXPECTED: Record<UserKind['name'], string[]> = {
    agent: ENDPOINTS.filter((e) => e.includes('/agents/')),
    goal: ['POST /api/v1/agents/', ...ENDPOINTS.filter((e) => e.includes('/goals/'))],
    task: ['POST /api/v1/agents/', ...ENDPOINTS.filter((e) => e.includes('/tasks/'))],
  }

  describe.each(USER_KINDS.map((k) => [k.name, k] as const))('%s users', (name, kind) => {
    const USERS = 15
    const STEPS = 60
    const runs = (async () => {
      const out = []
      for (let u = 0; u < USERS; u++) {
        const target = scriptedTarget(u)
        const state = new UserState(kind, new Rng(1000 + u), RUN)
        for (let s = 0; s < STEPS; s++) await step(state, target.send)
        out.push({...target, state})
      }
      return out
    })()

    it('use only ids that came from a 201 to the same user, and never one after deleting it', async () => {
      let used = 0
      for (const {log, issued, decoys} of await runs) {
        const deleted = new Set<string>()
        for (const {req} of log) {
          const m = ROUTE.exec(req.path)
          if (!m?.[2]) continue
          const [, coll, raw] = m as unknown as [string, Coll, string]
          const id = decodeURIComponent(raw)
          expect(issued[coll].has(id), `${req.method} ${req.path}: id not from a 201`).toBe(true)
          expect(decoys.has(id)).toBe(false)
          expect(deleted.has(id), `${req.method} ${req.path}: id used after its DELETE`).toBe(false)
          if (req.method === 'DELETE') deleted.add(id)
          used++
        }
      }
      expect(used).toBeGreaterThan(100) // the check above ran on real traffic
    })

    it('send each request to the route template it is counted under', async () => {
      for (const {log} of await runs) {
        for (const {req} of log) {
          expect(ENDPOINTS as readonly string[]).toContain(req.endpoint)
          const m = ROUTE.exec(req.path)
          const template = m?.[2] ? `/api/v1/${m[1]}/${PARAM[m[1] as Coll]}` : req.path
          expect(`${req.method} ${template}`).toBe(req.endpoint)
        }
      }
    })

    it('send payloads as the contract says', async () => {
      for (const {log} of await runs) log.forEach(checkPayload)
    })

    it('exercise every endpoint of their kind and no other', async () => {
      const seen = new Set((await runs).flatMap((r) => r.log.map((x) => x.req.endpoint)))
      expect([...seen].sort()).toEqual([...EXPECTED[name]].sort())
    })

    it(name === 'agent' ? 'create no agent on start' : 'create their own agent on start and use it, only when it got a 201', async () => {
      let withAgent = 0
      let without = 0
      for (const {log, state} of await runs) {
        if (name === 'agent') {
          expect(state.ownAgent).toBeUndefined()
          continue
        }
        expect(log[0]!.req.endpoint).toBe('POST /api/v1/agents/')
        expect(log.filter((x) => x.req.endpoint === 'POST /api/v1/agents/')).toHaveLength(1) // on start only
        const own = log[0]!.res.status === 201 ? (log[0]!.res.body as {id: string}).id : undefined
        expect(state.ownAgent).toBe(own)
        const creates = log.filter((x) => x.req.method === 'POST' && x.req.endpoint !== 'POST /api/v1/agents/')
        expect(creates.length).toBeGreaterThan(0)
        for (const c of creates) expect((c.req.body as {agent_id?: string}).agent_id).toBe(own)
        if (own) withAgent++
        else without++
      }
      if (name !== 'agent') {
        expect(withAgent).toBeGreaterThan(0)
        expect(without).toBeGreaterThan(0) // both cases were exercised
      }
    })
  })

  it('in the open model (one request per arrival) the on-start agent is a step of its own', async () => {
    const target = scriptedTarget(0)
    const u = new UserState(GOAL_USER, new Rng(5), RUN)
    const counts: number[] = []
    for (let s = 0; s < 20; s++) {
      const before = target.log.length
      await step(u, target.send, true)
      counts.push(target.log.length - before)
    }
    expect(counts[0]).toBe(1)
    expect(target.log[0]!.req.endpoint).toBe('POST /api/v1/agents/')
    expect(Math.max(...counts)).toBe(1)
  })

  it('prepares each kind for the open model: its on-start, then the ids its tasks need, before any arrival', async () => {
    let n = 0
    const sent: string[] = []
    const send: Send = async (req) => {
      sent.push(req.endpoint)
      const id = `00000000-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}`
      return {status: 201, body: {id, goal_id: id, task_id: id}}
    }
    const users = USER_KINDS.map((k, i) => new UserState(k, new Rng(i), RUN))
    for (const u of users) await prepare(u, send)
    const [agent, goal, task] = users as [UserState, UserState, UserState]
    expect(agent.agentIds).toHaveLength(5)
    expect([goal.ownAgent, goal.goalIds.length, task.ownAgent, task.taskIds.length]).toEqual([expect.any(String), 1, expect.any(String), 1])
    expect(sent.filter((e) => e === 'POST /api/v1/agents/')).toHaveLength(7)
    // Prepared, a user's next step is one of its tasks, not its on-start.
    for (const u of users) expect(u.started).toBe(true)
  })

  it('a delete takes an id no request in flight uses, so the target cannot answer that request 404', async () => {
    const task = (name: string) => AGENT_USER.tasks.find((t) => t.name === name)!
    for (let seed = 0; seed < 20; seed++) {
      const u = new UserState(AGENT_USER, new Rng(seed), RUN)
      u.agentIds.push('a', 'b')
      const paths: string[] = []
      let answer!: () => void
      const held: Send = (req) => {
        paths.push(req.path)
        return new Promise((r) => (answer = () => r({status: 200})))
      }
      const get = task('get agent').run(u, held)
      await task('delete agent').run(u, async (req) => {
        paths.push(req.path)
        return {status: 204}
      })
      const [inFlight, deleted] = paths.map((p) => p.split('/').pop())
      expect(deleted).not.toBe(inFlight)
      expect(u.agentIds).toEqual([inFlight])
      answer()
      await get
      expect(u.inUse.size).toBe(0)
    }
  })

  it('gives the same requests for the same seed', async () => {
    const trace = async (seed: number) => {
      const target = scriptedTarget(0)
      const u = new UserState(TASK_USER, new Rng(seed), RUN)
      for (let s = 0; s < 30; s++) await step(u, target.send)
      return target.log.map(({req}) => {
        const body = req.body as {output_data?: {timestamp?: string}} | undefined
        if (body?.output_data) delete body.output_data.timestamp
        return req
      })
    }
    expect(await trace(3)).toEqual(await trace(3))
    expect(await trace(3)).not.toEqual(await trace(4))
  })
})

describe('the live view', () => {
  const progress = (more: Partial<Progress> = {}): Progress => ({
    profile: 'smoke',
    elapsed: 30,
    duration: 60,
    users: 10,
    maxUsers: 10,
    rps: 6.5,
    p50: 12.3,
    p95: 31.2,
    count: 200,
    failures: 3,
    worst: {endpoint: 'PATCH /api/v1/agents/:id', p95: 45.6, errorRate: 0.02},
    ...more,
  })

  it('shows progress as a bar with elapsed / total, then users, req/s, p50/p95, errors and the worst endpoint', () => {
    const lines = liveView(progress(), 100)
    expect(lines).toHaveLength(3)
    const bar = /█+░+/.exec(lines[0]!)![0]
    expect(bar.split('').filter((c) => c === '█')).toHaveLength(bar.length / 2) // half way
    expect(lines[0]).toMatch(/^smoke █+░+ 30s \/ 1m00s {2}50%$/)
    expect(lines[1]).toBe('users 10/10  req/s 6.5  p50 12.3 ms  p95 31.2 ms  errors 3 (1.50%)')
    expect(lines[2]).toBe('worst PATCH /api/v1/agents/:id p95 45.6 ms, 2.00% errors')
  })

  it('fills the bar at the end and never past it', () => {
    for (const elapsed of [60, 75]) {
      const [first] = liveView(progress({elapsed}), 100)
      expect(first).not.toContain('░')
      expect(first).toContain('100%')
    }
    expect(liveView(progress({elapsed: 0}), 100)[0]).not.toContain('█')
  })

  it('says "no responses" for an interval without any, never a latency of 0', () => {
    const lines = liveView(progress({p50: null, p95: null, rps: 0}), 100)
    expect(lines[1]).toContain('no responses')
    expect(lines[1]).not.toMatch(/p95 0/)
    expect(progressLine(progress({p50: null, p95: null}))).toContain('no responses')
  })

  it('fits every line to the terminal width, so redrawing in place never wraps', () => {
    for (const width of [40, 60, 80]) {
      const lines = liveView(progress({worst: {endpoint: `GET /api/v1/${'x'.repeat(100)}`, p95: 1, errorRate: 0}}), width)
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(width)
    }
  })

  it('before any endpoint answered: no worst endpoint', () => {
    expect(liveView(progress({worst: undefined, count: 0, failures: 0}), 100)[2]).toBe('worst -')
  })

  it('has one plain line for logs, with the same figures and no bar', () => {
    const line = progressLine(progress())
    expect(line).toBe(
      '30s/1m00s  users 10/10  req/s 6.5  p50 12.3 ms  p95 31.2 ms  errors 3 (1.50%)  worst PATCH /api/v1/agents/:id p95 45.6 ms, ' +
        '2.00% errors',
    )
  })
})

describe('interrupted runs', () => {
  const base = (): Omit<Summary, 'verdict'> => ({
    version: SUMMARY_VERSION,
    profile: 'smoke',
    target: 'http://x',
    startedAt: '2026-01-01T00:00:00.000Z',
    duration: 12.3,
    users: 10,
    spawnRate: 5,
    model: 'closed',
    seed: 1,
    total: stats(100, 0, 20),
    endpoints: [],
    series: [],
    failures: [],
    thresholds: evaluate(effectiveThresholds([]), stats(100, 0, 20), []),
    validity: {valid: true, reasons: [], eventLoopLagP99Ms: 1, utilisation: 0.1, lateSends: 0, sends: 100},
  })

  it('are INTERRUPTED with exit 130, saying how far they got and how the thresholds stood', () => {
    const v = verdictOf({...base(), interrupted: {signal: 'SIGINT', plannedDuration: 60}}, undefined)
    expect(v).toMatchObject({status: 'INTERRUPTED', exitCode: 130, aborted: true})
    expect(v.sentence).toBe('INTERRUPTED by SIGINT after 12.3 s of 60 s: 100 requests, p95 20 ms, 0% errors; thresholds held so far')
    const failing = {...base(), total: stats(100, 50, 20), interrupted: {signal: 'SIGTERM', plannedDuration: 60}}
    failing.thresholds = evaluate(effectiveThresholds([]), failing.total, [])
    expect(verdictOf(failing, undefined).sentence).toMatch(/^INTERRUPTED by SIGTERM .*; so far FAILED: errors of total 50% >= 1%$/)
  })

  it('an uninterrupted run is judged as before', () => {
    expect(verdictOf(base(), undefined)).toMatchObject({status: 'PASSED', exitCode: 0})
  })

  it('runLoad runs a scenario given as a module and, when its signal is aborted, stops early and marks the summary', async () => {
    // A user-defined scenario in plain JavaScript, loaded by the generator thread from its URL.
    const file = join(mkdtempSync(join(tmpdir(), 'platform-scenario-')), 'ping.mjs')
    writeFileSync(
      file,
      `export default {
      name: 'ping', module: import.meta.url, thinkMs: {min: 20, max: 20}, endpoints: ['GET /api/v1/agents/'],
      kinds: [{name: 'pinger', weight: 1, tasks: [{name: 'list', weight: 1, run: async (u, send) => {
        await send({endpoint: 'GET /api/v1/agents/', method: 'GET', path: '/api/v1/agents/'})
      }}]}],
    }\n`,
    )
    const scenario = await loadScenario(pathToFileURL(file).href)
    const target = await startFakeTarget()
    try {
      const stop = new AbortController()
      const points: Progress[] = []
      const s = await runLoad({
        target: target.url,
        apiKey: target.apiKey,
        scenario,
        seed: 1,
        thresholds: effectiveThresholds([]),
        intervalS: 1,
        signal: stop.signal,
        profile: {name: 'custom', users: 3, spawnRate: 10, durationS: 120},
        onPoint: (_p, progress) => {
          points.push(progress)
          if (points.length === 2) stop.abort('SIGINT')
        },
      })
      expect(s.interrupted).toEqual({signal: 'SIGINT', plannedDuration: 120})
      expect(s.verdict).toMatchObject({status: 'INTERRUPTED', exitCode: 130})
      expect(s.duration).toBeLessThan(120)
      expect(s.endpoints.map((e) => e.endpoint)).toEqual(['GET /api/v1/agents/'])
      expect(s.total.count).toBeGreaterThan(0)
      // Counted: what the target answered, less at most one dropped request in flight per user.
      const served = target.requests.filter((r) => r.endpoint === 'GET /api/v1/agents/').length
      expect(s.total.count).toBeLessThanOrEqual(served)
      expect(s.total.count).toBeGreaterThanOrEqual(served - 3)
      expect(s.total.failures).toBe(0) // requests dropped at the interruption are not counted as failures
      expect(points[0]).toMatchObject({profile: 'custom', duration: 120, maxUsers: 3, worst: {endpoint: 'GET /api/v1/agents/'}})
    } finally {
      await target.close()
    }
  })

  it('loadScenario names a module that exports no scenario', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'platform-scenario-')), 'nothing.mjs')
    writeFileSync(file, 'export const x = 1\n')
    await expect(loadScenario(pathToFileURL(file).href)).rejects.toThrow(/nothing\.mjs does not export a scenario/)
  })
})

describe('the open model', () => {
  /** One seeded open-model run against a fresh fake target whose creates answer after createDelayMs. */
  async function openRun(createDelayMs: number) {
    const target = await startFakeTarget()
    try {
      for (const e of ENDPOINTS.filter((e) => e.startsWith('POST '))) target.set(e, {delayMs: createDelayMs})
      const s = await runLoad({
        target: target.url,
        apiKey: target.apiKey,
        scenario: contract,
        seed: 42,
        thresholds: effectiveThresholds([]),
        intervalS: 1,
        rate: 40,
        profile: {name: 'custom', users: 1, spawnRate: 1, durationS: 3},
      })
      return {total: s.total.count, endpoints: Object.fromEntries(s.endpoints.map((e) => [e.endpoint, [e.count, e.failures]]))}
    } finally {
      await target.close()
    }
  }

  it('sends the same requests per endpoint for a seed whether the target answers creates at once or 300 ms late', async () => {
    // Seed 42 sends 3 deletes, fewer than the agents prepared before the run: no latency leaves a task without an id.
    const fast = await openRun(0)
    const late = await openRun(300)
    expect(fast.total).toBe(120) // every arrival of 40 req/s for 3 s was sent
    expect(late).toEqual(fast)
    // Every endpoint was hit, the ones that need an id too, and none failed (no id was used before its 201).
    expect(Object.keys(fast.endpoints).sort()).toEqual([...ENDPOINTS].sort())
    for (const [endpoint, [, failures]] of Object.entries(fast.endpoints)) expect(failures, endpoint).toBe(0)
  }, 60_000)
})
