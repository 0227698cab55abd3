import * as hdr from 'hdr-histogram-js'
import type {EndpointStats, LatencyStats, SeriesPoint} from './types.js'

/** Latencies are recorded in microseconds, up to an hour, to 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  })
}

const toUs = (ms: number) => Math.max(1, Math.round(ms * 1000))
const toMs = (us: number) => Math.round(us) / 1000

/** One endpoint's counts over an interval, as a worker hands them over (histogram encoded). */
export interface IntervalCounts {
  hist: string
  count: number
  failures: number
}

class Bucket {
  hist = newHistogram()
  count = 0
  failures = 0
}

/** A worker's recorder: per-endpoint histograms for the current interval. */
export class IntervalRecorder {
  #buckets = new Map<string, Bucket>()

  record(endpoint: string, latencyMs: number, failed: boolean): void {
    let b = this.#buckets.get(endpoint)
    if (!b) this.#buckets.set(endpoint, (b = new Bucket()))
    b.hist.recordValue(toUs(latencyMs))
    b.count++
    if (failed) b.failures++
  }

  /** The interval's counts, encoded for postMessage; starts a new interval. */
  drain(): Record<string, IntervalCounts> {
    const out: Record<string, IntervalCounts> = {}
    for (const [endpoint, b] of this.#buckets)
      out[endpoint] = {hist: hdr.encodeIntoCompressedBase64(b.hist), count: b.count, failures: b.failures}
    this.#buckets.clear()
    return out
  }
}

/** The fraction (0..1) of recorded values above limitMs, found by bisecting the percentiles. */
export function fractionAbove(h: hdr.Histogram, limitMs: number): number {
  if (h.totalCount === 0 || toMs(h.maxValue) <= limitMs) return 0
  let lo = 0
  let hi = 100
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2
    if (toMs(h.getValueAtPercentile(mid)) <= limitMs) lo = mid
    else hi = mid
  }
  return (100 - lo) / 100
}

function latencyStats(b: Bucket, seconds: number): LatencyStats {
  const h = b.hist
  const has = h.totalCount > 0
  return {
    count: b.count,
    failures: b.failures,
    errorRate: b.count ? b.failures / b.count : 0,
    rps: seconds > 0 ? Math.round((b.count / seconds) * 100) / 100 : 0,
    min: has ? toMs(h.minNonZeroValue) : 0,
    mean: has ? toMs(h.mean) : 0,
    p50: has ? toMs(h.getValueAtPercentile(50)) : 0,
    p90: has ? toMs(h.getValueAtPercentile(90)) : 0,
    p95: has ? toMs(h.getValueAtPercentile(95)) : 0,
    p99: has ? toMs(h.getValueAtPercentile(99)) : 0,
    max: has ? toMs(h.maxValue) : 0,
  }
}

/** One generator's run totals, over every endpoint: its row of the per-generator table. */
export class Tally {
  readonly #all = new Bucket()

  add(parts: ReadonlyArray<Record<string, IntervalCounts>>): void {
    for (const part of parts) {
      for (const c of Object.values(part)) {
        const h = hdr.decodeFromCompressedBase64(c.hist, 32, false)
        this.#all.hist.add(h)
        h.destroy()
        this.#all.count += c.count
        this.#all.failures += c.failures
      }
    }
  }

  stats(seconds: number): Pick<LatencyStats, 'count' | 'failures' | 'rps' | 'p50' | 'p95' | 'p99'> {
    const {count, failures, rps, p50, p95, p99} = latencyStats(this.#all, seconds)
    return {count, failures, rps, p50, p95, p99}
  }
}

/** The main side: merges the workers' intervals into run totals and the time series. */
export class Aggregator {
  readonly #endpoints = new Map<string, Bucket>()
  readonly #total = new Bucket()
  readonly series: SeriesPoint[] = []

  /** Adds one interval from every worker; returns its time-series point. */
  addInterval(parts: Array<Record<string, IntervalCounts>>, t: number, seconds: number, users: number): SeriesPoint {
    const interval = new Bucket()
    for (const part of parts) {
      for (const [endpoint, c] of Object.entries(part)) {
        const h = hdr.decodeFromCompressedBase64(c.hist, 32, false)
        let b = this.#endpoints.get(endpoint)
        if (!b) this.#endpoints.set(endpoint, (b = new Bucket()))
        for (const target of [b, this.#total, interval]) {
          target.hist.add(h)
          target.count += c.count
          target.failures += c.failures
        }
        h.destroy()
      }
    }
    const s = latencyStats(interval, seconds)
    // No responses in the interval: no latency, rather than a latency of 0.
    const lat = (v: number) => (interval.count > 0 ? v : null)
    const point = {
      t: Math.round(t * 10) / 10,
      rps: s.rps,
      p50: lat(s.p50),
      p95: lat(s.p95),
      p99: lat(s.p99),
      errors: interval.failures,
      users,
    }
    this.series.push(point)
    return point
  }

  total(seconds: number): LatencyStats {
    return latencyStats(this.#total, seconds)
  }

  endpoints(seconds: number): EndpointStats[] {
    return [...this.#endpoints.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([endpoint, b]) => ({endpoint, ...latencyStats(b, seconds)}))
  }

  /** The histogram and counts of one scope ('total' or an endpoint), for abort checks. */
  scope(scope: string): {hist: hdr.Histogram; count: number; failures: number; sumMs: number} | undefined {
    const b = scope === 'total' ? this.#total : this.#endpoints.get(scope)
    return b && {hist: b.hist, count: b.count, failures: b.failures, sumMs: toMs(b.hist.mean * b.hist.totalCount)}
  }
}
