/** The shape of a load-test result: what the runner produces and every report reads. */

/**
 * summary.json's version; bump it when the shape changes incompatibly. Version 2: series
 * latencies may be null (an interval with no responses), and `interrupted`.
 */
export const SUMMARY_VERSION = 2

/** Latency figures in milliseconds, counts over the whole run. */
export interface LatencyStats {
  count: number
  failures: number
  /** failures / count, 0..1 */
  errorRate: number
  /** requests per second over the measured duration */
  rps: number
  min: number
  mean: number
  p50: number
  p90: number
  p95: number
  p99: number
  max: number
}

export interface EndpointStats extends LatencyStats {
  /** method + route template, e.g. "PATCH /api/v1/agents/:id" */
  endpoint: string
}

/** One interval of the time series (every few seconds). */
export interface SeriesPoint {
  /** seconds since the run started, at the end of the interval */
  t: number
  rps: number
  /** null when no response came in the interval (a stall): never a latency of 0 */
  p50: number | null
  p95: number | null
  p99: number | null
  /** failed requests in the interval */
  errors: number
  /** active virtual users at the end of the interval */
  users: number
}

/** Failures of one endpoint with one status and one message (ids, UUIDs and numbers normalised away). */
export interface FailureGroup {
  endpoint: string
  /** HTTP status, or null for a connection error or timeout */
  status: number | null
  message: string
  count: number
  firstSeen: {t: number; users: number}
  sample: {
    request: {method: string; url: string; body?: unknown}
    response: {status: number | null; body?: unknown}
  }
}

export type ThresholdMetric = 'p50' | 'p90' | 'p95' | 'p99' | 'max' | 'mean' | 'errors'
export type ThresholdOp = '<' | '<=' | '>' | '>='

export interface ThresholdResult {
  /** 'total' or an endpoint */
  scope: string
  metric: ThresholdMetric
  op: ThresholdOp
  /** ms for latency metrics, a fraction 0..1 for errors */
  limit: number
  actual: number
  passed: boolean
  /** e.g. "p95 of PATCH /api/v1/agents/:id 812 ms > 500 ms" */
  text: string
}

export interface Validity {
  valid: boolean
  /** why the run is invalid: the generator, not the target, was the bottleneck */
  reasons: string[]
  eventLoopLagP99Ms: number
  /** generator event-loop utilisation, 0..1 (the busiest worker) */
  utilisation: number
  lateSends: number
  sends: number
}

/** One generator of a distributed run: its share of the load and whether it kept up. */
export interface GeneratorSummary {
  /** "generator 2" */
  name: string
  /** the node (host) it ran on */
  node?: string
  count: number
  failures: number
  rps: number
  p50: number
  p95: number
  p99: number
  /** its own validity: it kept up and kept reporting */
  valid: boolean
  /** why it went missing, when it did */
  lost?: string
  eventLoopLagP99Ms: number
  utilisation: number
  /** its process's CPU time over wall time (1 = one core) */
  cpu?: number
}

export interface BaselineComparison {
  file: string
  tolerance: number
  regressed: boolean
  /** one line per compared figure */
  changes: Array<{scope: string; metric: string; baseline: number; current: number; ratio: number; regressed: boolean}>
}

export type VerdictStatus = 'PASSED' | 'FAILED' | 'REGRESSED' | 'INVALID' | 'INTERRUPTED'

export interface Verdict {
  status: VerdictStatus
  /** one sentence, e.g. "FAILED: p95 of PATCH /api/v1/agents/:id 812 ms > 500 ms" */
  sentence: string
  /** 130 when interrupted, as a shell reports a command stopped by Ctrl-C */
  exitCode: 0 | 1 | 4 | 5 | 130
  aborted: boolean
}

export interface Summary {
  version: typeof SUMMARY_VERSION
  profile: string
  target: string
  startedAt: string
  /** measured seconds */
  duration: number
  users: number
  spawnRate: number
  /** closed: virtual users with think time; open: fixed arrival rate */
  model: 'closed' | 'open'
  rate?: number
  seed: number
  total: LatencyStats
  endpoints: EndpointStats[]
  series: SeriesPoint[]
  failures: FailureGroup[]
  thresholds: ThresholdResult[]
  validity: Validity
  baseline?: BaselineComparison
  /** a distributed run's generators (--generators), each with its share */
  generators?: GeneratorSummary[]
  /** present when a signal (Ctrl-C) stopped the run: the figures cover only what ran */
  interrupted?: {signal: string; plannedDuration: number}
  verdict: Verdict
}

/** The run so far, for the live view: the last interval's rate and latencies, counts since the start. */
export interface Progress {
  profile: string
  /** seconds since the start, and planned */
  elapsed: number
  duration: number
  users: number
  maxUsers: number
  rps: number
  /** null when no response came in the last interval */
  p50: number | null
  p95: number | null
  count: number
  failures: number
  /** the endpoint nearest to (or furthest past) its thresholds */
  worst?: {endpoint: string; p95: number; errorRate: number}
}
