import {randomUUID} from 'node:crypto'
import type {Worker} from 'node:worker_threads'
import {PlatformError, startWorker} from '../core/index.js'
import {compareToBaseline} from './baseline.js'
import {FailureGroups} from './failures.js'
import type {GeneratorConfig, GeneratorHealth, IntervalReport} from './generator.js'
import type {Profile} from './profiles.js'
import type {Scenario} from './scenario.js'
import {Aggregator} from './stats.js'
import {certainFailure, describeThreshold, evaluate, type Threshold} from './thresholds.js'
import {SUMMARY_VERSION, type EndpointStats, type Progress, type SeriesPoint, type Summary, type Validity, type Verdict} from './types.js'

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
}

/**
 * Above these the generator, not the target, limited the run. A loop blocked 90% of the time
 * must be clearly over the utilisation limit, not on it: busy fraction is measured over the whole
 * run, idle start and tail included.
 */
export const VALIDITY_LIMITS = {lagP99Ms: 100, utilisation: 0.8, lateFraction: 0.05} as const

const spawnGenerator = (cfg: GeneratorConfig): Worker => startWorker(import.meta.url, 'worker', {workerData: cfg})

type Msg =
  | ({type: 'interval'} & IntervalReport)
  | ({type: 'done'; health: GeneratorHealth} & IntervalReport)
  | {type: 'ready'}
  | {type: 'error'; message: string}

/** The message of the given type that a worker sends next. */
function next<T extends Msg['type']>(w: Worker, type: T): Promise<Extract<Msg, {type: T}>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Msg) => {
      if (m.type === 'error') return finish(() => reject(new PlatformError('INTERNAL', `load generator failed: ${m.message}`)))
      if (m.type === type) finish(() => resolve(m as Extract<Msg, {type: T}>))
    }
    const onExit = (code: number) => finish(() => reject(new PlatformError('INTERNAL', `load generator exited (code ${code})`)))
    const finish = (f: () => void) => {
      w.off('message', onMsg)
      w.off('exit', onExit)
      f()
    }
    w.on('message', onMsg)
    w.on('exit', onExit)
  })
}

function validity(health: GeneratorHealth[]): Validity {
  const lag = Math.max(0, ...health.map((h) => h.lagP99Ms))
  const util = Math.max(0, ...health.map((h) => h.utilisation))
  const sends = health.reduce((s, h) => s + h.sends, 0)
  const late = health.reduce((s, h) => s + h.lateSends, 0)
  const reasons: string[] = []
  if (lag > VALIDITY_LIMITS.lagP99Ms) reasons.push(`generator event-loop lag p99 ${lag} ms > ${VALIDITY_LIMITS.lagP99Ms} ms`)
  if (util > VALIDITY_LIMITS.utilisation)
    reasons.push(`generator event loop ${Math.round(util * 100)}% busy > ${VALIDITY_LIMITS.utilisation * 100}%`)
  if (sends >= 20 && late / sends > VALIDITY_LIMITS.lateFraction) reasons.push(`${late} of ${sends} sends left over 50 ms late`)
  return {valid: reasons.length === 0, reasons, eventLoopLagP99Ms: lag, utilisation: util, lateSends: late, sends}
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

/** Runs the scenario from worker threads, merges their results and judges the run. */
export async function runLoad(opts: RunOptions): Promise<Summary> {
  const {profile, scenario, signal} = opts
  const workers = Math.max(1, Math.min(opts.workers ?? 1, profile.users))
  const intervalS = opts.intervalS ?? 2
  const runId = randomUUID()
  const gens = Array.from({length: workers}, (_, w) =>
    spawnGenerator({
      target: opts.target,
      apiKey: opts.apiKey,
      users: Array.from({length: profile.users}, (_, i) => i).filter((i) => i % workers === w),
      spawnRate: profile.spawnRate,
      durationMs: profile.durationS * 1000,
      seed: (opts.seed + w * 7919) >>> 0,
      runId,
      rate: opts.rate ? opts.rate / workers : undefined,
      shard: {index: w, of: workers},
      timeoutMs: opts.timeoutMs ?? 30_000,
      scenario: scenario.module,
      starveMs: opts.starveMs,
      idempotency: opts.idempotency,
    }),
  )
  const agg = new Aggregator()
  const failures = new FailureGroups()
  let interrupted: string | undefined
  const interrupt = () => {
    interrupted = typeof signal?.reason === 'string' ? signal.reason : 'a signal'
    for (const g of gens) g.postMessage({type: 'stop', abandon: true})
  }
  if (signal?.aborted) interrupt()
  else signal?.addEventListener('abort', interrupt, {once: true})
  try {
    await Promise.all(gens.map((g) => next(g, 'ready')))
    const startedAt = new Date(Date.now() + 100)
    const done = gens.map((g) => next(g, 'done'))
    for (const g of gens) g.postMessage({type: 'start', startEpochMs: startedAt.getTime()})
    const elapsed = () => (Date.now() - startedAt.getTime()) / 1000
    let aborted: string | undefined
    let finished = false
    void Promise.all(done).then(
      () => (finished = true),
      () => (finished = true),
    )

    let last = 0
    const thresholdScopes = [...scenario.endpoints]
    while (!finished) {
      await Promise.race([new Promise((r) => setTimeout(r, intervalS * 1000)), Promise.all(done)])
      if (finished) break
      const parts = await Promise.all(
        gens.map((g) => {
          const reply = next(g, 'interval').catch(() => undefined)
          g.postMessage({type: 'tick'})
          // A generator that has just finished answers no tick; its numbers come with 'done'.
          return Promise.race([reply, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))])
        }),
      )
      const got = parts.filter((p): p is NonNullable<typeof p> => !!p)
      if (got.length === 0) continue
      const now = elapsed()
      for (const p of got) failures.merge(p.failures)
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
        aborted = certainFailure(opts.thresholds, agg, thresholdScopes, maxRemaining)
        if (aborted) for (const g of gens) g.postMessage({type: 'stop'})
      }
    }
    const finals = await Promise.all(done)
    const duration = Math.max(elapsed(), 0.001)
    for (const f of finals) failures.merge(f.failures)
    agg.addInterval(
      finals.map((f) => f.endpoints),
      duration,
      duration - last,
      0,
    )

    const total = agg.total(duration)
    const endpoints = agg.endpoints(duration)
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
      validity: validity(finals.map((f) => f.health)),
      ...(opts.baseline
        ? {baseline: compareToBaseline({total, endpoints}, opts.baseline.summary, opts.baseline.file, opts.baseline.tolerance)}
        : {}),
      ...(interrupted ? {interrupted: {signal: interrupted, plannedDuration: profile.durationS}} : {}),
    }
    return {...partial, verdict: verdictOf(partial, aborted)}
  } finally {
    signal?.removeEventListener('abort', interrupt)
    await Promise.all(gens.map((g) => g.terminate()))
  }
}

export {describeThreshold}
