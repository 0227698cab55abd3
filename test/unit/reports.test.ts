import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {PlatformError, packageRoot} from '../../src/core/index.js'
import {readSummary, renderHtml, renderJunit, renderSummaryJson, writeReports} from '../../src/loadtest/reports.js'
import {SUMMARY_VERSION, type EndpointStats, type Summary} from '../../src/loadtest/types.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'platform-reports-'))
const template = () => readFileSync(join(packageRoot(), 'templates', 'report.html'), 'utf8')

function stats(endpoint: string, count: number, failures: number, p50: number): EndpointStats {
  return {
    endpoint,
    count,
    failures,
    errorRate: failures / count,
    rps: count / 60,
    min: p50 / 4,
    mean: p50 * 1.2,
    p50,
    p90: p50 * 2,
    p95: p50 * 2.6,
    p99: p50 * 4,
    max: p50 * 9,
  }
}

/** A 60-second run against the gateway: one threshold failed and a baseline that regressed. */
function fixture(): Summary {
  const endpoints = [
    stats('GET /api/v1/agents', 5400, 0, 18),
    stats('POST /api/v1/agents', 1200, 3, 42),
    stats('PATCH /api/v1/agents/:id', 1100, 41, 310),
    stats('DELETE /api/v1/agents/:id', 300, 0, 25),
  ]
  const count = endpoints.reduce((n, e) => n + e.count, 0)
  const failures = endpoints.reduce((n, e) => n + e.failures, 0)
  return {
    version: SUMMARY_VERSION,
    profile: 'agents-crud',
    target: 'http://127.0.0.1:8080',
    startedAt: '2026-11-22T09:15:00.000Z',
    duration: 60,
    users: 50,
    spawnRate: 5,
    model: 'closed',
    seed: 42,
    total: {...stats('total', count, failures, 24), rps: count / 60},
    endpoints,
    series: Array.from({length: 10}, (_, i) => ({
      t: (i + 1) * 6,
      rps: 40 + i * 12,
      p50: 15 + i,
      p95: 60 + i * 25,
      p99: 120 + i * 60,
      errors: i < 6 ? 0 : (i - 5) * 4,
      users: Math.min(50, (i + 1) * 10),
    })),
    failures: [
      {
        endpoint: 'PATCH /api/v1/agents/:id',
        status: 409,
        message: 'CONFLICT: agent <id> was modified concurrently',
        count: 38,
        firstSeen: {t: 37.2, users: 50},
        sample: {
          request: {
            method: 'PATCH',
            url: 'http://127.0.0.1:8080/api/v1/agents/5d0c1e9a-8f5e-4f8e-9d7c-0c1f2f3a4b5c',
            body: {name: 'agent-17', status: 'idle'},
          },
          response: {status: 409, body: {error: 'CONFLICT', message: 'agent 5d0c1e9a was modified concurrently'}},
        },
      },
      {
        endpoint: 'POST /api/v1/agents',
        status: null,
        message: 'connect ECONNRESET',
        count: 6,
        firstSeen: {t: 51.9, users: 50},
        sample: {
          request: {method: 'POST', url: 'http://127.0.0.1:8080/api/v1/agents', body: {name: 'agent-<n>'}},
          response: {status: null},
        },
      },
    ],
    thresholds: [
      {scope: 'total', metric: 'p95', op: '<', limit: 500, actual: 62.4, passed: true, text: 'p95 of total 62.4 ms < 500 ms'},
      {
        scope: 'PATCH /api/v1/agents/:id',
        metric: 'p95',
        op: '<',
        limit: 500,
        actual: 806,
        passed: false,
        text: 'p95 of PATCH /api/v1/agents/:id 806 ms > 500 ms',
      },
      {scope: 'total', metric: 'errors', op: '<', limit: 0.01, actual: failures / count, passed: true, text: 'errors of total 0.55% < 1%'},
    ],
    validity: {valid: true, reasons: [], eventLoopLagP99Ms: 4.1, utilisation: 0.38, lateSends: 0, sends: count},
    baseline: {
      file: 'reports/main/summary.json',
      tolerance: 0.1,
      regressed: true,
      changes: [
        {scope: 'total', metric: 'p95', baseline: 55, current: 62.4, ratio: 62.4 / 55, regressed: true},
        {scope: 'total', metric: 'rps', baseline: 130, current: 133.3, ratio: 133.3 / 130, regressed: false},
      ],
    },
    verdict: {status: 'FAILED', sentence: 'FAILED: p95 of PATCH /api/v1/agents/:id 806 ms > 500 ms', exitCode: 1, aborted: false},
  }
}

const unxml = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
const testcases = (xml: string) =>
  [...xml.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"(\/>|>\s*<failure message="([^"]*)">([^<]*)<\/failure>)/g)].map((m) => ({
    classname: unxml(m[1]!),
    name: unxml(m[2]!),
    failure: m[4] === undefined ? undefined : unxml(m[4]),
    text: m[5] === undefined ? undefined : unxml(m[5]),
  }))
const suiteAttr = (xml: string, name: string) => xml.match(new RegExp(`<testsuite [^>]*\\b${name}="([^"]*)"`))?.[1]

describe('renderJunit', () => {
  it('has a testcase per threshold plus the regressed baseline, with correct counts', () => {
    const xml = renderJunit(fixture())
    const cases = testcases(xml)
    expect(cases.map((c) => [c.classname, c.name])).toEqual([
      ['total', 'p95 < 500 ms'],
      ['PATCH /api/v1/agents/:id', 'p95 < 500 ms'],
      ['total', 'errors < 1%'],
      ['run', 'baseline'],
    ])
    expect(suiteAttr(xml, 'name')).toBe('platform load test: agents-crud')
    expect(suiteAttr(xml, 'tests')).toBe('4')
    expect(suiteAttr(xml, 'failures')).toBe('2')
    expect(suiteAttr(xml, 'time')).toBe('60')
    expect(cases[0]!.failure).toBeUndefined()
    expect(cases[1]!.failure).toBe('p95 of PATCH /api/v1/agents/:id 806 ms > 500 ms')
    expect(cases[1]!.text).toContain('806 ms')
    expect(cases[3]!.failure).toContain('reports/main/summary.json')
    expect(cases[3]!.text).toContain('p95 of total')
    expect(cases[3]!.text).not.toContain('rps of total') // only the figures that regressed
  })

  it('adds a failing "run validity" case listing the reasons when the run is invalid, and no baseline case when none regressed', () => {
    const s = fixture()
    s.validity = {...s.validity, valid: false, reasons: ['event-loop lag p99 212 ms > 50 ms', '1830 of 8000 sends were late']}
    s.baseline = {...s.baseline!, regressed: false}
    s.thresholds = s.thresholds.map((t) => ({...t, passed: true}))
    const xml = renderJunit(s)
    const cases = testcases(xml)
    expect(cases.map((c) => c.name)).toEqual(['p95 < 500 ms', 'p95 < 500 ms', 'errors < 1%', 'run validity'])
    expect(suiteAttr(xml, 'tests')).toBe('4')
    expect(suiteAttr(xml, 'failures')).toBe('1')
    expect(cases[3]!.failure).toContain('event-loop lag p99 212 ms > 50 ms')
    expect(cases[3]!.failure).toContain('1830 of 8000 sends were late')
  })

  it('marks an interrupted run: a failing "run completed" case and the interrupted property', () => {
    const s = fixture()
    s.interrupted = {signal: 'SIGINT', plannedDuration: 300}
    s.verdict = {status: 'INTERRUPTED', sentence: 'INTERRUPTED by SIGINT after 60 s of 300 s: 8000 requests', exitCode: 130, aborted: true}
    const xml = renderJunit(s)
    const last = testcases(xml).find((c) => c.name === 'run completed')!
    expect(last).toMatchObject({classname: 'run', name: 'run completed', text: s.verdict.sentence})
    expect(last.failure).toBe('interrupted by SIGINT after 60 s of 300 s; the figures cover only what ran')
    expect(suiteAttr(xml, 'failures')).toBe('3')
    expect(xml).toContain('<property name="interrupted" value="true"/>')
    expect(renderJunit(fixture())).toContain('<property name="interrupted" value="false"/>')
  })

  it('escapes markup in every attribute and text', () => {
    const s = fixture()
    s.profile = 'a&b "quoted" <profile>'
    s.thresholds[1] = {...s.thresholds[1]!, scope: 'GET /q?a=1&b=<2>', text: 'p95 of <&"> 806 ms > 500 ms\nsecond line'}
    const xml = renderJunit(s)
    expect(xml).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+);)/) // no bare ampersand
    expect(xml.replace(/<\/?[a-z?][^<>]*>/g, '')).not.toMatch(/[<>]/) // no stray angle brackets between tags
    expect(suiteAttr(xml, 'name')).toBe('platform load test: a&amp;b &quot;quoted&quot; &lt;profile&gt;')
    const c = testcases(xml)[1]!
    expect(c.classname).toBe('GET /q?a=1&b=<2>')
    expect(c.failure).toBe('p95 of <&"> 806 ms > 500 ms\nsecond line')
    expect(xml).toContain('message="p95 of &lt;&amp;&quot;&gt; 806 ms')
  })
})

const embedded = (html: string) => {
  const m = html.match(/<script id="summary" type="application\/json">([\s\S]*?)<\/script>/)
  if (!m) throw new Error('no summary script element')
  return JSON.parse(m[1]!)
}

describe('renderHtml', () => {
  it('embeds the summary so it parses back unchanged', () => {
    const s = fixture()
    const html = renderHtml(s, template())
    expect(html).not.toContain('__SUMMARY_JSON__')
    expect(embedded(html)).toEqual(s)
  })

  it('keeps hostile text inside the script element', () => {
    const s = fixture()
    s.failures[0]!.message = '</script><script>alert(1)</script>'
    s.failures[1]!.sample.response.body = '<!-- \u2028 \u2029 $& $1 $$'
    const tpl = template()
    const html = renderHtml(s, tpl)
    const count = (h: string, needle: string) => h.split(needle).length - 1
    expect(count(html, '</script>')).toBe(count(tpl, '</script>'))
    expect(count(html, '<script')).toBe(count(tpl, '<script'))
    expect(html).not.toMatch(/[\u2028\u2029]/)
    expect(embedded(html)).toEqual(s)
  })

  it('refuses a template without the token', () => {
    expect(() => renderHtml(fixture(), '<html></html>')).toThrow(/__SUMMARY_JSON__/)
  })
})

describe('readSummary', () => {
  const refusal = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return err as PlatformError
    }
    throw new Error('expected readSummary to throw')
  }

  it('reads back what renderSummaryJson wrote', () => {
    const file = join(tmp(), 'summary.json')
    writeFileSync(file, renderSummaryJson(fixture()))
    expect(readSummary(file)).toEqual(fixture())
  })

  it('refuses a missing file', () => {
    const file = join(tmp(), 'nope.json')
    const err = refusal(() => readSummary(file))
    expect(err).toBeInstanceOf(PlatformError)
    expect(err.code).toBe('USAGE')
    expect(err.message).toContain(file)
    expect(err.message).toMatch(/does not exist/)
    expect(err.suggestion).toBeTruthy()
  })

  it('refuses invalid JSON', () => {
    const file = join(tmp(), 'summary.json')
    writeFileSync(file, '{"version": 1,')
    const err = refusal(() => readSummary(file))
    expect(err.code).toBe('USAGE')
    expect(err.message).toContain(file)
    expect(err.message).toMatch(/not valid JSON/)
  })

  it('reads a version 1 summary (its totals compare the same) and refuses an interrupted run as a baseline', () => {
    const file = join(tmp(), 'summary.json')
    writeFileSync(file, JSON.stringify({...fixture(), version: 1}))
    expect(readSummary(file).total).toEqual(fixture().total)
    writeFileSync(file, JSON.stringify({...fixture(), interrupted: {signal: 'SIGINT', plannedDuration: 300}}))
    const err = refusal(() => readSummary(file))
    expect(err.code).toBe('USAGE')
    expect(err.message).toMatch(/interrupted run/)
  })

  it('refuses another summary version or something that is not a summary', () => {
    const file = join(tmp(), 'summary.json')
    writeFileSync(file, JSON.stringify({...fixture(), version: SUMMARY_VERSION + 1}))
    const err = refusal(() => readSummary(file))
    expect(err.code).toBe('USAGE')
    expect(err.message).toContain(file)
    expect(err.message).toContain(`version ${SUMMARY_VERSION + 1}`)
    writeFileSync(file, '[1, 2]')
    expect(refusal(() => readSummary(file)).message).toMatch(/not a load-test summary/)
  })
})

describe('writeReports', () => {
  it('creates the directory and writes the four files', async () => {
    const dir = join(tmp(), 'reports', 'run-1')
    const s = fixture()
    const paths = await writeReports(dir, s, ['starting 50 users', 'done'])
    expect(paths).toEqual({
      html: join(dir, 'report.html'),
      json: join(dir, 'summary.json'),
      junit: join(dir, 'junit.xml'),
      log: join(dir, 'run.log'),
    })
    for (const p of Object.values(paths)) expect(existsSync(p), p).toBe(true)
    expect(embedded(readFileSync(paths.html, 'utf8'))).toEqual(s)
    expect(readSummary(paths.json)).toEqual(s)
    expect(readFileSync(paths.json, 'utf8').endsWith('}\n')).toBe(true)
    expect(readFileSync(paths.junit, 'utf8')).toBe(renderJunit(s))
    expect(readFileSync(paths.log, 'utf8')).toBe('starting 50 users\ndone\n')
  })
})
