import {PlatformError} from '../core/index.js'
import {fractionAbove, type Aggregator} from './stats.js'
import type {EndpointStats, LatencyStats, ThresholdMetric, ThresholdOp, ThresholdResult} from './types.js'

export interface Threshold {
  /** An endpoint, or undefined for the total and every endpoint */
  endpoint?: string
  metric: ThresholdMetric
  op: ThresholdOp
  /** ms for latency metrics, a fraction 0..1 for errors */
  limit: number
  /** given by the user (a default is replaced by a user threshold of the same scope and metric) */
  user: boolean
}

const METRICS: readonly ThresholdMetric[] = ['p50', 'p90', 'p95', 'p99', 'max', 'mean', 'errors']
const SPEC = /^(?:(GET|POST|PATCH|DELETE|PUT)\s+(\S+)\s+)?([a-z0-9]+)\s*(<=|>=|<|>)\s*([\d.]+)\s*(ms|s|%)?$/i

export const DEFAULT_THRESHOLDS: readonly Threshold[] = [
  {metric: 'p95', op: '<=', limit: 500, user: false},
  {metric: 'errors', op: '<', limit: 0.01, user: false},
]

/**
 * Parses `p95<500`, `p99<=1s`, `errors<1%` or `"PATCH /api/v1/agents/:id p95<300"`.
 * An unknown metric or endpoint is a usage error, never ignored.
 */
export function parseThreshold(text: string, endpoints: readonly string[]): Threshold {
  const m = SPEC.exec(text.trim())
  const usage = (why: string) =>
    new PlatformError('USAGE', `--threshold "${text}": ${why}`, {
      suggestion: 'write it as METRIC<VALUE, e.g. p95<500, p99<1s, errors<1%, or "PATCH /api/v1/agents/:id p95<300"',
    })
  if (!m) throw usage('not of the form [METHOD PATH] METRIC<VALUE')
  const [, method, path, rawMetric, op, rawValue, unit] = m
  const metric = rawMetric!.toLowerCase() as ThresholdMetric
  if (!METRICS.includes(metric)) throw usage(`unknown metric "${rawMetric}" (known: ${METRICS.join(', ')})`)
  const endpoint = method ? `${method.toUpperCase()} ${path}` : undefined
  if (endpoint && !endpoints.includes(endpoint)) throw usage(`unknown endpoint "${endpoint}" (known: ${endpoints.join(', ')})`)
  const value = Number(rawValue)
  if (!Number.isFinite(value)) throw usage(`"${rawValue}" is not a number`)
  if (metric === 'errors') {
    if (unit !== '%') throw usage('an error rate is a percentage, e.g. errors<1%')
    return {endpoint, metric, op: op as ThresholdOp, limit: value / 100, user: true}
  }
  if (unit === '%') throw usage(`${metric} is a latency: give milliseconds (500 or 500ms) or seconds (1s)`)
  return {endpoint, metric, op: op as ThresholdOp, limit: unit === 's' ? value * 1000 : value, user: true}
}

/** The defaults, less those a user threshold of the same scope and metric replaces, plus the user's. */
export function effectiveThresholds(user: readonly Threshold[]): Threshold[] {
  const replaced = (d: Threshold) => user.some((u) => u.metric === d.metric && u.endpoint === d.endpoint)
  return [...DEFAULT_THRESHOLDS.filter((d) => !replaced(d)), ...user]
}

const holds = (actual: number, op: ThresholdOp, limit: number) =>
  op === '<' ? actual < limit : op === '<=' ? actual <= limit : op === '>' ? actual > limit : actual >= limit
const NEGATE: Record<ThresholdOp, string> = {'<': '>=', '<=': '>', '>': '<=', '>=': '<'}

const fmt = (metric: ThresholdMetric, v: number) => (metric === 'errors' ? `${Math.round(v * 10000) / 100}%` : `${Math.round(v)} ms`)

export function describeThreshold(t: Pick<Threshold, 'metric' | 'op' | 'limit'>): string {
  return `${t.metric} ${t.op} ${fmt(t.metric, t.limit)}`
}

/** Every threshold against the total and the endpoints it covers; a scoped one with no requests fails. */
export function evaluate(thresholds: readonly Threshold[], total: LatencyStats, endpoints: readonly EndpointStats[]): ThresholdResult[] {
  const results: ThresholdResult[] = []
  for (const t of thresholds) {
    const scopes: Array<[string, LatencyStats | undefined]> = t.endpoint
      ? [[t.endpoint, endpoints.find((e) => e.endpoint === t.endpoint)]]
      : [['total', total], ...endpoints.map((e): [string, LatencyStats] => [e.endpoint, e])]
    for (const [scope, stats] of scopes) {
      const actual = stats ? (t.metric === 'errors' ? stats.errorRate : stats[t.metric]) : Number.NaN
      const passed = stats !== undefined && stats.count > 0 && holds(actual, t.op, t.limit)
      const of = `${t.metric} of ${scope}`
      const text =
        !stats || stats.count === 0
          ? `${of}: no requests were made`
          : `${of} ${fmt(t.metric, actual)} ${passed ? t.op : NEGATE[t.op]} ${fmt(t.metric, t.limit)}`
      results.push({scope, metric: t.metric, op: t.op, limit: t.limit, actual: Number.isNaN(actual) ? 0 : actual, passed, text})
    }
  }
  return results
}

/**
 * A threshold that will fail whatever the rest of the run does: the requests still to
 * come (at most maxRemaining, all assumed perfect) could no longer bring it back.
 * Only upper limits (< and <=) can become certain.
 */
export function certainFailure(
  thresholds: readonly Threshold[],
  agg: Aggregator,
  scopes: readonly string[],
  maxRemaining: number,
): string | undefined {
  for (const t of thresholds) {
    if (t.op === '>' || t.op === '>=') continue
    for (const scope of t.endpoint ? [t.endpoint] : ['total', ...scopes]) {
      const s = agg.scope(scope)
      if (!s || s.count === 0) continue
      const best = s.count + maxRemaining
      let bound: number
      if (t.metric === 'errors') bound = s.failures / best
      else if (t.metric === 'max') bound = s.hist.maxValue / 1000
      else if (t.metric === 'mean') bound = s.sumMs / best
      else {
        // pXX fails for sure once more than (100 - XX)% of all possible requests are over the limit.
        const above = fractionAbove(s.hist, t.limit) * s.count
        const allowed = (1 - Number(t.metric.slice(1)) / 100) * best
        if (above > allowed) return `${t.metric} of ${scope} is certain to exceed ${fmt(t.metric, t.limit)}`
        continue
      }
      if (!holds(bound, t.op, t.limit)) return `${t.metric} of ${scope} is certain to be ${NEGATE[t.op]} ${fmt(t.metric, t.limit)}`
    }
  }
  return undefined
}
