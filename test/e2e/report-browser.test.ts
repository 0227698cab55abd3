import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {chromium, type Browser} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {writeReports} from '../../src/loadtest/reports.js'
import {SUMMARY_VERSION, type EndpointStats, type Summary} from '../../src/loadtest/types.js'

const CHROMIUM = '/usr/bin/chromium'
const missing = !existsSync(CHROMIUM)
if (missing && process.env.CI !== 'true')
  console.warn(
    `[platform tests] ${CHROMIUM} not found: the report browser tests are skipped. Install Debian's chromium package to enable them.`,
  )

const stats = (endpoint: string, count: number, failures: number, p50: number): EndpointStats => ({
  endpoint,
  count,
  failures,
  errorRate: failures / count,
  rps: count / 30,
  min: p50 / 3,
  mean: p50 * 1.1,
  p50,
  p90: p50 * 2,
  p95: p50 * 3,
  p99: p50 * 5,
  max: p50 * 8,
})

function summary(full: boolean): Summary {
  const endpoints = [
    stats('GET /api/v1/agents', 3000, 0, 12),
    stats('POST /api/v1/agents', 900, 12, 35),
    stats('PATCH /api/v1/agents/:id', 600, 30, 240),
  ]
  return {
    version: SUMMARY_VERSION,
    profile: 'smoke',
    target: 'http://127.0.0.1:8080',
    startedAt: '2026-11-22T09:00:00.000Z',
    duration: 30,
    users: 20,
    spawnRate: 4,
    model: 'open',
    rate: 150,
    seed: 7,
    total: {...stats('total', 4500, 42, 16), rps: 150},
    endpoints: full ? endpoints : [],
    series: full
      ? Array.from({length: 10}, (_, i) => ({
          t: (i + 1) * 3,
          rps: 100 + i * 6,
          p50: 12 + i,
          p95: 40 + i * 9,
          p99: 90 + i * 20,
          errors: i > 6 ? 8 : 0,
          users: Math.min(20, (i + 1) * 4),
        }))
      : [],
    failures: full
      ? [
          {
            endpoint: 'PATCH /api/v1/agents/:id',
            status: 500,
            message: 'INTERNAL: </script><script>alert(1)</script> <b>not bold</b>',
            count: 30,
            firstSeen: {t: 22.5, users: 20},
            sample: {
              request: {method: 'PATCH', url: 'http://127.0.0.1:8080/api/v1/agents/1', body: {name: 'x'}},
              response: {status: 500, body: '<img src=x onerror=alert(2)>'},
            },
          },
        ]
      : [],
    thresholds: full
      ? [{scope: 'total', metric: 'p95', op: '<', limit: 100, actual: 48, passed: true, text: 'p95 of total 48 ms < 100 ms'}]
      : [],
    validity: {valid: true, reasons: [], eventLoopLagP99Ms: 3, utilisation: 0.2, lateSends: 0, sends: 4500},
    verdict: full
      ? {status: 'PASSED', sentence: 'PASSED: every threshold held', exitCode: 0, aborted: false}
      : {status: 'INVALID', sentence: 'INVALID: no requests were sent', exitCode: 5, aborted: true},
  }
}

describe.skipIf(missing && process.env.CI !== 'true')('report.html in headless Chromium', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    })
  })
  afterAll(async () => browser?.close())

  /** Opens the report writeReports wrote for s, collecting every console error, page error and request. */
  async function open(s: Summary) {
    const {html} = await writeReports(mkdtempSync(join(tmpdir(), 'platform-report-')), s, [])
    const page = await browser.newPage()
    const errors: string[] = []
    const requests: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('dialog', (d) => {
      errors.push(`dialog: ${d.message()}`)
      void d.dismiss()
    })
    page.on('request', (r) => requests.push(r.url()))
    await page.goto(pathToFileURL(html).href, {waitUntil: 'load'})
    return {page, errors, requests: () => requests.filter((u) => u !== pathToFileURL(html).href)}
  }

  it('draws the three charts, the verdict and the endpoint table without errors', async () => {
    const s = summary(true)
    const {page, errors, requests} = await open(s)
    const charts = page.locator('.chart')
    expect(await charts.count()).toBe(3)
    for (let i = 0; i < 3; i++) {
      const ds = await charts
        .nth(i)
        .locator('path.line')
        .evaluateAll((ps) => ps.map((p) => p.getAttribute('d') ?? ''))
      expect(ds.length, `chart ${i}`).toBeGreaterThan(0)
      for (const d of ds) {
        expect(d, `chart ${i}`).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/)
        const [w, h] = await charts
          .nth(i)
          .locator('svg')
          .evaluate((svg) => svg.getAttribute('viewBox')!.split(' ').slice(2).map(Number))
        for (const [, x, y] of d.matchAll(/([\d.]+),([\d.]+)/g)) {
          expect(Number(x), `chart ${i}: ${d}`).toBeLessThanOrEqual(w!)
          expect(Number(y), `chart ${i}: ${d}`).toBeLessThanOrEqual(h!)
        }
      }
    }
    expect(await page.locator('.verdict').textContent()).toContain(s.verdict.sentence)
    expect(await page.locator('table').first().locator('tbody tr').allTextContents()).toHaveLength(s.endpoints.length)
    for (const e of s.endpoints) expect(await page.locator('table').first().textContent()).toContain(e.endpoint)
    // The hostile message shows as text, not markup.
    expect(await page.locator('.failure .msg').textContent()).toBe(s.failures[0]!.message)
    expect(await page.locator('.failure b, .failure img').count()).toBe(0)
    expect(errors).toEqual([])
    expect(requests()).toEqual([])
    await page.close()
  })

  it('a stall shows as a "no responses" band and a gap, p95 stays visible when it equals p99, the threshold is a line', async () => {
    const s = summary(true)
    const stalled = new Set([4, 5])
    // p95 equals p99 throughout; two intervals (12-15 s and 15-18 s) had no responses at all.
    const stall = {rps: 0, p50: null, p95: null, p99: null, errors: 0}
    s.series = s.series.map((p, i) => (stalled.has(i) ? {...p, ...stall} : {...p, p95: 40 + i * 4, p99: 40 + i * 4}))
    s.thresholds = [{scope: 'total', metric: 'p95', op: '<=', limit: 150, actual: 70, passed: true, text: 'p95 of total 70 ms <= 150 ms'}]
    const {page, errors, requests} = await open(s)
    const latency = page.locator('.chart').nth(1)

    expect(await latency.locator('text.stall-label').allTextContents()).toEqual(['no responses'])
    const band = await latency.locator('rect.stall').evaluate((r) => {
      const from = Number(r.getAttribute('x'))
      return {from, to: from + Number(r.getAttribute('width'))}
    })
    for (const key of ['p50', 'p95', 'p99']) {
      const d = (await latency.locator(`path[data-key="${key}"]`).getAttribute('d'))!
      expect(d.match(/M/g), `${key}: ${d}`).toHaveLength(2) // a gap, not a line down to 0 ms
      const xs = [...d.matchAll(/([\d.]+),([\d.]+)/g)].map((m) => Number(m[1]))
      expect(xs).toHaveLength(s.series.length - stalled.size)
      for (const x of xs) expect(x <= band.from + 0.5 || x >= band.to - 0.5, `${key} point at x=${x} inside the stall`).toBe(true)
    }

    // What is painted at a point of the p95 line, and just beside it: p95 on top, p99 still showing around it.
    // Runs in the page (this project type-checks without the DOM library, hence `any`).
    await latency.scrollIntoViewIfNeeded() // elementFromPoint sees only the viewport
    // biome-ignore lint/suspicious/noExplicitAny: a DOM element, typed only in the page
    const painted = await latency.locator('svg').evaluate((svg: any) => {
      const p95 = svg.querySelector('path[data-key="p95"]')
      const [, x, y] = / L([\d.]+),([\d.]+)/.exec(p95.getAttribute('d'))!.map(Number)
      const ctm = svg.getScreenCTM()
      const at = (dy: number): string | undefined => {
        const pt = new svg.ownerDocument.defaultView.DOMPoint(x, y! + dy).matrixTransform(ctm)
        return svg.ownerDocument.elementFromPoint(pt.x, pt.y)?.getAttribute('data-key')
      }
      return {centre: at(0), edge: at(2.4)}
    })
    expect(painted).toEqual({centre: 'p95', edge: 'p99'})

    const limit = latency.locator('line.threshold')
    expect(await limit.count()).toBe(1)
    const [y1, y2] = await limit.evaluate((l) => [Number(l.getAttribute('y1')), Number(l.getAttribute('y2'))])
    expect(y1).toBe(y2)
    expect(await latency.locator('text.threshold-label').textContent()).toBe('threshold p95 <= 150 ms')
    // The limit sits above every p95 point of the chart (smaller y is higher).
    const p95d = (await latency.locator('path[data-key="p95"]').getAttribute('d'))!
    for (const m of p95d.matchAll(/,([\d.]+)/g)) expect(Number(m[1])).toBeGreaterThan(y1!)
    expect(errors).toEqual([])
    expect(requests()).toEqual([])
    await page.close()
  })

  it('marks an interrupted run in the verdict', async () => {
    const s = summary(true)
    s.interrupted = {signal: 'SIGINT', plannedDuration: 60}
    s.verdict = {status: 'INTERRUPTED', sentence: 'INTERRUPTED by SIGINT after 30 s of 60 s: 4500 requests', exitCode: 130, aborted: true}
    const {page, errors} = await open(s)
    expect(await page.locator('.verdict.INTERRUPTED').textContent()).toContain(s.verdict.sentence)
    const note = 'Interrupted by SIGINT after 30s of 1m; figures cover only the part that ran.'
    expect(await page.locator('.verdict .note').textContent()).toBe(note)
    expect(errors).toEqual([])
    await page.close()
  })

  it('a distributed run shows a row per generator: its node, share, p95 and validity, a lost one marked', async () => {
    const s = summary(true)
    const gen = {count: 2250, failures: 21, rps: 75, p50: 15, p99: 80, eventLoopLagP99Ms: 2, utilisation: 0.3, cpu: 0.4}
    s.generators = [
      {...gen, name: 'generator 1', node: 'node-a', p95: 47, valid: true},
      {...gen, name: 'generator 2', node: 'node-b', p95: 52, valid: false, lost: 'generator 2 on node node-b stopped reporting at 41 s'},
    ]
    const {page, errors} = await open(s)
    const section = page.locator('h2', {hasText: 'Generators'})
    expect(await section.count()).toBe(1)
    const rows = await page.locator('h2:has-text("Generators") + .table-wrap tbody tr').allTextContents()
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatch(/^generator 1node-a2,25075.*valid$/)
    expect(rows[1]).toMatch(/^generator 2node-b.*lost$/)
    expect(errors).toEqual([])
    await page.close()
  })

  it('a run of one machine has no generators table', async () => {
    const {page} = await open(summary(true))
    expect(await page.locator('h2', {hasText: 'Generators'}).count()).toBe(0)
    await page.close()
  })

  it('renders an empty run (no series, no endpoints, no failures) without errors', async () => {
    const s = summary(false)
    const {page, errors, requests} = await open(s)
    expect(await page.locator('.chart').count()).toBe(3)
    expect(await page.locator('.chart path.line').count()).toBe(0)
    expect(await page.locator('.verdict').textContent()).toContain(s.verdict.sentence)
    expect(await page.locator('.verdict').textContent()).toMatch(/aborted/)
    expect(await page.locator('body').textContent()).toMatch(/no failures/i)
    expect(errors).toEqual([])
    expect(requests()).toEqual([])
    await page.close()
  })
})
