import {randomUUID} from 'node:crypto'
import {compareToBaseline} from './baseline.js'
import {FailureGroups} from './failures.js'
import {combineHealth, scenarioRef, threadConfigs, threadGenerator, type Final, type GeneratorHandle, type Plan} from './fleet.js'
import type {GeneratorHealth, IntervalReport} from './generator.js'
import type {Profile} from './profiles.js'
import type {Scenario} from './scenario.js'
import {Aggregator, Tally} from './stats.js'
import {certainFailure, describeThreshold, evaluate, type Threshold} from './thresholds.js'
import {
  SUMMARY_VERSION,
  type EndpointStats,
  type GeneratorSummary,
  type Progress,
  type SeriesPoint,
  type Summary,
  type Validity,
  type Verdict,
} from './types.js'

export interface RunOptions {
  /** L09's base URL */
  target: string
  apiKey: string
  profile: Profile
  /** what the virtual users do */
  scenario: Scenario
  seed: number
  thresholds: Threshold[]
  abortOnFail?: boolean
  /** open model: requests per second at fixed arrival times */
  rate?: number
  workers?: number
  /** seconds between time-series points and progress lines */
  intervalS?: number
  timeoutMs?: number
  baseline?: {file: string; summary: Summary; tolerance: number}
  /** called with each time-series point as it is made */
  onPoint?: (p: SeriesPoint, progress: Progress) => void
  /** aborting it (Ctrl-C) stops the users and drops requests in flight; the summary says it was interrupted */
  signal?: AbortSignal
  /** test fault injection: starve the generator's event loop */
  starveMs?: number
  /** creates carry an Idempotency-Key and are retried once after a 503 or no answer */
  idempotency?: boolean
  /** where the load comes from (default: worker threads in this process); a distributed run's generators */
  fleet?: Fleet
}

/** Brings up a run's generators for its plan (they are then readied, started and collected by the runner). */
export type Fleet = (plan: Plan, ctx: {apiKey: string; signal?: AbortSignal}) => Promise<GeneratorHandle[]>

/**
 * Above these the generator, not the target, limited the run. A loop blocked 90% of the time
 * must be clearly over the utilisation limit, not on it: busy fraction is measured over the whole
 * run, idle start and tail included.
 */
export const VALIDITY_LIMITS = {lagP99Ms: 100, utilisation: 0.8, lateFraction: 0.05} as const

/** Validity of one generator's signals; reasons name it when it has a name. */
function reasonsOf(h: GeneratorHealth, name: string): string[] {
  const reasons: string[] = []
  if (h.lagP99Ms > VALIDITY_LIMITS.lagP99Ms) reasons.push(`generator event-loop lag p99 ${h.lagP99Ms} ms > ${VALIDITY_LIMITS.lagP99Ms} ms`)
  if (h.utilisation > VALIDITY_LIMITS.utilisation)
    reasons.push(`generator event loop ${Math.round(h.utilisation * 100)}% busy > ${VALIDITY_LIMITS.utilisation * 100}%`)
  if (h.sends >= 20 && h.lateSends / h.sends > VALIDITY_LIMITS.lateFraction)
    reasons.push(`${h.lateSends} of ${h.sends} sends left over 50 ms late`)
  return name ? reasons.map((r) => `${name}: ${r}`) : reasons
}

function validity(finals: ReadonlyArray<{name: string; final: Final}>): Validity {
  const all = combineHealth(finals.map((f) => f.final.health))
  const reasons = finals.flatMap(({name, final}) => [...(final.lost ? [final.lost] : []), ...reasonsOf(final.health, name)])
  return {
    valid: reasons.length === 0,
    reasons,
    eventLoopLagP99Ms: all.lagP99Ms,
    utilisation: all.utilisation,
    lateSends: all.lateSends,
    sends: all.sends,
  }
}

/** The endpoint nearest to (or furthest past) its upper limits; by p95 when there are none. */
function worstEndpoint(endpoints: readonly EndpointStats[], thresholds: readonly Threshold[]): Progress['worst'] {
  const severity = (e: EndpointStats) => {
    const applies = thresholds.filter((t) => (t.endpoint ?? e.endpoint) === e.endpoint && t.op.startsWith('<') && t.limit > 0)
    return applies.length ? Math.max(...applies.map((t) => (t.metric === 'errors' ? e.errorRate : e[t.metric]) / t.limit)) : e.p95
  }
  const worst = endpoints.filter((e) => e.count > 0).sort((a, b) => severity(b) - severity(a))[0]
  return worst && {endpoint: worst.endpoint, p95: worst.p95, errorRate: worst.errorRate}
}

const round1 = (v: number) => Math.round(v * 10) / 10

export function verdictOf(s: Omit<Summary, 'verdict'>, aborted: string | undefined): Verdict {
  const failed = s.thresholds.filter((t) => !t.passed)
  const more = (n: number) => (n > 1 ? ` (and ${n - 1} more)` : '')
  const tail = aborted ? `; stopped early: ${aborted}` : ''
  const t = s.total
  const figures = `${t.count} requests, p95 ${round1(t.p95)} ms, ${Math.round(t.errorRate * 10000) / 100}% errors`
  if (s.interrupted) {
    const sofar = failed.length ? `; so far FAILED: ${failed[0]!.text}${more(failed.length)}` : '; thresholds held so far'
    const {signal, plannedDuration} = s.interrupted
    const sentence = `INTERRUPTED by ${signal} after ${s.duration} s of ${plannedDuration} s: ${figures}${sofar}`
    return {status: 'INTERRUPTED', sentence, exitCode: 130, aborted: true}
  }
  if (!s.validity.valid) return {status: 'INVALID', sentence: `INVALID: ${s.validity.reasons.join('; ')}`, exitCode: 5, aborted: !!aborted}
  if (failed.length)
    return {status: 'FAILED', sentence: `FAILED: ${failed[0]!.text}${more(failed.length)}${tail}`, exitCode: 1, aborted: !!aborted}
  const worse = s.baseline?.changes.filter((c) => c.regressed) ?? []
  if (worse.length) {
    const w = worse[0]!
    const show = (v: number) => (w.metric === 'errors' ? `${Math.round(v * 10000) / 100}%` : `${v} ms`)
    return {
      status: 'REGRESSED',
      sentence: `REGRESSED: ${w.metric} of ${w.scope} ${show(w.current)} vs baseline ${show(w.baseline)}${more(worse.length)}`,
      exitCode: 4,
      aborted: false,
    }
  }
  return {status: 'PASSED', sentence: `PASSED: ${figures}`, exitCode: 0, aborted: false}
}

/** The run's load as every generator is told it. */
export function planOf(opts: RunOptions): Plan {
  const {profile} = opts
  return {
    target: opts.target,
    users: profile.users,
    spawnRate: profile.spawnRate,
    durationMs: profile.durationS * 1000,
    seed: opts.seed,
    runId: randomUUID(),
    ...(opts.rate ? {rate: opts.rate} : {}),
    timeoutMs: opts.timeoutMs ?? 30_000,
    scenario: scenarioRef(opts.scenario),
    workers: Math.max(1, Math.min(opts.workers ?? 1, profile.users)),
    ...(opts.starveMs ? {starveMs: opts.starveMs} : {}),
    ...(opts.idempotency ? {idempotency: true} : {}),
  }
}

/** The plain run's one generator: worker threads in this process. */
const inProcess: Fleet = async (plan, {apiKey}) => [threadGenerator(threadConfigs(plan, apiKey, 0, 1))]

const round2 = (v: number) => Math.round(v * 100) / 100

/** A distributed run's row for one generator: its own share of the requests, and whether it kept up and kept reporting. */
function generatorRow(g: GeneratorHandle, tally: Tally, {health, lost}: Final, duration: number): GeneratorSummary {
  return {
    name: g.name,
    ...(g.node ? {node: g.node} : {}),
    ...tally.stats(duration),
    valid: !lost && reasonsOf(health, '').length === 0,
    ...(lost ? {lost} : {}),
    eventLoopLagP99Ms: health.lagP99Ms,
    utilisation: round2(health.utilisation),
    ...(health.cpu !== undefined ? {cpu: round2(health.cpu)} : {}),
  }
}

/**
 * Runs the scenario from the fleet's generators (by default worker threads here), merges
 * their histograms as the run goes, and judges the merged figures.
 */
export async function runLoad(opts: RunOptions): Promise<Summary> {
  const {profile, scenario, signal} = opts
  const intervalS = opts.intervalS ?? 2
  const plan = planOf(opts)
  const agg = new Aggregator()
  const failures = new FailureGroups()
  let interrupted: string | undefined
  let gens: GeneratorHandle[] = []
  const interrupt = () => {
    interrupted = typeof signal?.reason === 'string' ? signal.reason : 'a signal'
    for (const g of gens) g.stop(true)
  }
  if (signal?.aborted) interrupt()
  else signal?.addEventListener('abort', interrupt, {once: true})
  try {
    gens = await (opts.fleet ?? inProcess)(plan, {apiKey: opts.apiKey, signal})
    const tallies = gens.map(() => new Tally())
    if (interrupted) for (const g of gens) g.stop(true)
    await Promise.all(gens.map((g) => g.ready))
    // Remote generators hear of the start by HTTP (the answer to their held /ready): give that a moment.
    const startInMs = 100 + (opts.fleet ? intervalS * 250 : 0)
    const startedAt = new Date(Date.now() + startInMs)
    for (const g of gens) g.start(startInMs)
    const elapsed = () => (Date.now() - startedAt.getTime()) / 1000
    let aborted: string | undefined
    const finals: Array<Final | undefined> = gens.map(() => undefined)
    const stopAll = (why: string) => {
      aborted ??= why
      for (const g of gens) g.stop()
    }
    const done = Promise.all(
      gens.map((g, i) =>
        g.done.then((f) => {
          finals[i] = f
          // A generator gone missing fails the run: the others stop rather than load a target for a run already invalid.
          if (f.lost) stopAll(f.lost)
        }),
      ),
    )
    let finished = false
    void done.then(
      () => (finished = true),
      () => (finished = true),
    )
    const take = (i: number, parts: IntervalReport[]) => {
      for (const p of parts) failures.merge(p.failures)
      tallies[i]!.add(parts.map((p) => p.endpoints))
      return parts
    }

    let last = 0
    const thresholdScopes = [...scenario.endpoints]
    while (!finished) {
      await Promise.race([new Promise((r) => setTimeout(r, intervalS * 1000)), done])
      if (finished) break
      const got = (await Promise.all(gens.map(async (g, i) => take(i, finals[i] ? [] : await g.collect())))).flat()
      if (got.length === 0) continue
      const now = elapsed()
      const point = agg.addInterval(
        got.map((p) => p.endpoints),
        now,
        now - last,
        got.reduce((s, p) => s + p.active, 0),
      )
      last = now
      const total = agg.total(Math.max(now, 0.001))
      opts.onPoint?.(point, {
        profile: profile.name,
        elapsed: point.t,
        duration: profile.durationS,
        users: point.users,
        maxUsers: profile.users,
        rps: point.rps,
        p50: point.p50,
        p95: point.p95,
        count: total.count,
        failures: total.failures,
        worst: worstEndpoint(agg.endpoints(now), opts.thresholds),
      })
      if (opts.abortOnFail && !aborted && !interrupted) {
        // At most one request per user per (think time + 0) from here on, or the open rate.
        const remainingS = Math.max(0, profile.durationS - now)
        const maxRemaining = opts.rate ? opts.rate * remainingS : profile.users * (remainingS / (scenario.thinkMs.min / 1000) + 1)
        const certain = certainFailure(opts.thresholds, agg, thresholdScopes, maxRemaining)
        if (certain) stopAll(certain)
      }
    }
    await done
    const ended = finals as Final[]
    const duration = Math.max(elapsed(), 0.001)
    const finalParts = ended.flatMap((f, i) => take(i, f.parts))
    agg.addInterval(
      finalParts.map((f) => f.endpoints),
      duration,
      duration - last,
      0,
    )

    const total = agg.total(duration)
    const endpoints = agg.endpoints(duration)
    const named = gens.map((g, i) => ({name: g.node ? `${g.name} on node ${g.node}` : g.name, final: ended[i]!}))
    const partial: Omit<Summary, 'verdict'> = {
      version: SUMMARY_VERSION,
      profile: profile.name,
      target: opts.target,
      startedAt: startedAt.toISOString(),
      duration: Math.round(duration * 10) / 10,
      users: profile.users,
      spawnRate: profile.spawnRate,
      model: opts.rate ? 'open' : 'closed',
      ...(opts.rate ? {rate: opts.rate} : {}),
      seed: opts.seed,
      total,
      endpoints,
      series: agg.series,
      failures: failures.list(),
      thresholds: evaluate(opts.thresholds, total, endpoints),
      validity: validity(named),
      ...(opts.fleet
        ? {
            generators: gens.map((g, i) => generatorRow(g, tallies[i]!, ended[i]!, duration)),
          }
        : {}),
      ...(opts.baseline
        ? {baseline: compareToBaseline({total, endpoints}, opts.baseline.summary, opts.baseline.file, opts.baseline.tolerance)}
        : {}),
      ...(interrupted ? {interrupted: {signal: interrupted, plannedDuration: profile.durationS}} : {}),
    }
    return {...partial, verdict: verdictOf(partial, aborted)}
  } finally {
    signal?.removeEventListener('abort', interrupt)
    await Promise.all(gens.map((g) => g.close()))
  }
}

export {describeThreshold}
