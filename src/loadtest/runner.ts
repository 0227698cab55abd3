import {randomUUID} from 'node:crypto'
import type {Worker} from 'node:worker_threads'
import {PlatformError, startWorker} from '../core/index.js'
import {compareToBaseline} from './baseline.js'
import {FailureGroups} from './failures.js'
import type {GeneratorConfig, GeneratorHealth, IntervalReport} from './generator.js'
import type {Profile} from './profiles.js'
import {ENDPOINTS, THINK_MS} from './scenario.js'
import {Aggregator} from './stats.js'
import {certainFailure, describeThreshold, evaluate, type Threshold} from './thresholds.js'
import {SUMMARY_VERSION, type Summary, type Validity, type Verdict, type SeriesPoint} from './types.js'

export interface RunOptions {
  /** L09's base URL */
  target: string
  apiKey: string
  profile: Profile
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
  onPoint?: (p: SeriesPoint, totals: {count: number; failures: number; p95: number}) => void
  /** test fault injection: starve the generator's event loop */
  starveMs?: number
}

/**
 * Above these the generator, not the target, limited the run. A loop blocked 90% of the time
 * must be clearly over the utilisation limit, not on it: busy fraction is measured over the whole
 * run, idle start and tail included.
 */
export const VALIDITY_LIMITS = {lagP99Ms: 100, utilisation: 0.8, lateFraction: 0.05} as const

const spawnGenerator = (cfg: GeneratorConfig): Worker => startWorker(import.meta.url, 'worker', {workerData: cfg})

type Msg = ({type: 'interval'} & IntervalReport) | ({type: 'done'; health: GeneratorHealth} & IntervalReport) | {type: 'ready'} | {type: 'error'; message: string}

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
  if (util > VALIDITY_LIMITS.utilisation) reasons.push(`generator event loop ${Math.round(util * 100)}% busy > ${VALIDITY_LIMITS.utilisation * 100}%`)
  if (sends >= 20 && late / sends > VALIDITY_LIMITS.lateFraction) reasons.push(`${late} of ${sends} sends left over 50 ms late`)
  return {valid: reasons.length === 0, reasons, eventLoopLagP99Ms: lag, utilisation: util, lateSends: late, sends}
}

function verdictOf(s: Omit<Summary, 'verdict'>, aborted: string | undefined): Verdict {
  const failed = s.thresholds.filter((t) => !t.passed)
  const more = (n: number) => (n > 1 ? ` (and ${n - 1} more)` : '')
  const tail = aborted ? `; stopped early: ${aborted}` : ''
  if (!s.validity.valid) return {status: 'INVALID', sentence: `INVALID: ${s.validity.reasons.join('; ')}`, exitCode: 5, aborted: !!aborted}
  if (failed.length) return {status: 'FAILED', sentence: `FAILED: ${failed[0]!.text}${more(failed.length)}${tail}`, exitCode: 1, aborted: !!aborted}
  const worse = s.baseline?.changes.filter((c) => c.regressed) ?? []
  if (worse.length) {
    const w = worse[0]!
    const show = (v: number) => (w.metric === 'errors' ? `${Math.round(v * 10000) / 100}%` : `${v} ms`)
    return {status: 'REGRESSED', sentence: `REGRESSED: ${w.metric} of ${w.scope} ${show(w.current)} vs baseline ${show(w.baseline)}${more(worse.length)}`, exitCode: 4, aborted: false}
  }
  const t = s.total
  return {status: 'PASSED', sentence: `PASSED: ${t.count} requests, p95 ${Math.round(t.p95 * 10) / 10} ms, ${Math.round(t.errorRate * 10000) / 100}% errors`, exitCode: 0, aborted: false}
}

/** Runs the scenario from worker threads, merges their results and judges the run. */
export async function runLoad(opts: RunOptions): Promise<Summary> {
  const {profile} = opts
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
      think: THINK_MS,
      starveMs: opts.starveMs,
    }),
  )
  const agg = new Aggregator()
  const failures = new FailureGroups()
  try {
    await Promise.all(gens.map((g) => next(g, 'ready')))
    const startedAt = new Date(Date.now() + 100)
    const done = gens.map((g) => next(g, 'done'))
    gens.forEach((g) => g.postMessage({type: 'start', startEpochMs: startedAt.getTime()}))
    const elapsed = () => (Date.now() - startedAt.getTime()) / 1000
    let aborted: string | undefined
    let finished = false
    void Promise.all(done).then(() => (finished = true), () => (finished = true))

    let last = 0
    const thresholdScopes = [...ENDPOINTS]
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
      got.forEach((p) => failures.merge(p.failures))
      const point = agg.addInterval(got.map((p) => p.endpoints), now, now - last, got.reduce((s, p) => s + p.active, 0))
      last = now
      const total = agg.total(Math.max(now, 0.001))
      opts.onPoint?.(point, {count: total.count, failures: total.failures, p95: total.p95})
      if (opts.abortOnFail && !aborted) {
        // At most one request per user per (think time + 0) from here on, or the open rate.
        const remainingS = Math.max(0, profile.durationS - now)
        const maxRemaining = opts.rate ? opts.rate * remainingS : profile.users * (remainingS / (THINK_MS.min / 1000) + 1)
        aborted = certainFailure(opts.thresholds, agg, thresholdScopes, maxRemaining)
        if (aborted) gens.forEach((g) => g.postMessage({type: 'stop'}))
      }
    }
    const finals = await Promise.all(done)
    const duration = Math.max(elapsed(), 0.001)
    finals.forEach((f) => failures.merge(f.failures))
    agg.addInterval(finals.map((f) => f.endpoints), duration, duration - last, 0)

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
      ...(opts.baseline ? {baseline: compareToBaseline({total, endpoints}, opts.baseline.summary, opts.baseline.file, opts.baseline.tolerance)} : {}),
    }
    return {...partial, verdict: verdictOf(partial, aborted)}
  } finally {
    await Promise.all(gens.map((g) => g.terminate()))
  }
}

export {describeThreshold}
