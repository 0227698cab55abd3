import type {BaselineComparison, EndpointStats, LatencyStats, Summary} from './types.js'

/** Latency changes under this many ms are noise, whatever the ratio. */
const FLOOR_MS = 5

/**
 * Compares p95 and error rate, in total and per endpoint present in both runs. A figure
 * regresses when it is worse than the baseline by more than the tolerance (a fraction:
 * 0.2 allows p95 20% slower; the error rate may rise by 0.5 percentage points or the
 * tolerance of its baseline value, whichever is more).
 */
export function compareToBaseline(
  current: Pick<Summary, 'total' | 'endpoints'>,
  baseline: Summary,
  file: string,
  tolerance: number,
): BaselineComparison {
  const scopes: Array<[string, LatencyStats, LatencyStats]> = [['total', current.total, baseline.total]]
  for (const e of current.endpoints) {
    const b = baseline.endpoints.find((x: EndpointStats) => x.endpoint === e.endpoint)
    if (b && b.count > 0 && e.count > 0) scopes.push([e.endpoint, e, b])
  }
  const changes: BaselineComparison['changes'] = []
  for (const [scope, cur, base] of scopes) {
    const p95Regressed = cur.p95 > base.p95 * (1 + tolerance) && cur.p95 - base.p95 > FLOOR_MS
    changes.push({
      scope,
      metric: 'p95',
      baseline: base.p95,
      current: cur.p95,
      ratio: base.p95 ? Math.round((cur.p95 / base.p95) * 100) / 100 : 0,
      regressed: p95Regressed,
    })
    const errRegressed = cur.errorRate > base.errorRate + Math.max(0.005, base.errorRate * tolerance)
    changes.push({
      scope,
      metric: 'errors',
      baseline: base.errorRate,
      current: cur.errorRate,
      ratio: base.errorRate ? Math.round((cur.errorRate / base.errorRate) * 100) / 100 : 0,
      regressed: errRegressed,
    })
  }
  return {file, tolerance, regressed: changes.some((c) => c.regressed), changes}
}
