import type {Worker} from 'node:worker_threads'
import {PlatformError, startWorker} from '../core/index.js'
import type {GeneratorConfig, GeneratorHealth, IntervalReport} from './generator.js'
import type {Scenario} from './scenario.js'
import contract from './scenarios/contract.js'

/** A scenario as a plan names it: a built-in one by name (its module's path differs between machines), any other by module URL. */
export const scenarioRef = (s: Scenario): string => (s.module === contract.module ? contract.name : s.module)
const scenarioModule = (ref: string): string => (ref === contract.name ? contract.module : ref)

/**
 * What every generator of a run is told: the whole run's load, which each one cuts into its
 * share. It crosses the wire to remote generators, so it is plain data (the API key is not in it).
 */
export interface Plan {
  target: string
  users: number
  spawnRate: number
  durationMs: number
  seed: number
  runId: string
  /** open model: requests per second over all generators */
  rate?: number
  timeoutMs: number
  /** the scenario's module URL, or the name of a built-in one ('contract') */
  scenario: string
  /** worker threads in each generator */
  workers: number
  starveMs?: number
  idempotency?: boolean
}

/** What a generator hands back when it ends: what it measured since the last report, and its validity signals. */
export interface Final {
  parts: IntervalReport[]
  health: GeneratorHealth
  /** why the generator went missing mid-run (it did not end): the run is invalid */
  lost?: string
}

/**
 * One generator of a run, however it runs: worker threads in this process, or a process on
 * this or another machine that talks to the coordinator. The runner drives every run through
 * these, so the single-machine and distributed runs share one code path.
 */
export interface GeneratorHandle {
  /** "generator 2", or '' for the one in-process generator of a plain run */
  readonly name: string
  /** the node it runs on, when it runs elsewhere */
  readonly node?: string
  /** resolves once it is warm; rejects when it cannot run */
  readonly ready: Promise<void>
  /** starts the load in startInMs (the same instant for every generator) */
  start(startInMs: number): void
  /** what it measured since the last call (a part per worker thread) */
  collect(): Promise<IntervalReport[]>
  /** ends the run early; with abandon (Ctrl-C) requests in flight are dropped */
  stop(abandon?: boolean): void
  readonly done: Promise<Final>
  close(): Promise<void>
}

/**
 * The worker threads' configurations of generator `index` of `of`. Threads are numbered over
 * the whole run (generator-major), so 2 generators of 1 thread send exactly the requests of
 * 1 generator of 2 threads: the same users, seeds and arrival offsets.
 */
export function threadConfigs(plan: Plan, apiKey: string, index: number, of: number): GeneratorConfig[] {
  const shards = of * plan.workers
  return Array.from({length: plan.workers}, (_, w) => {
    const k = index * plan.workers + w
    return {
      target: plan.target,
      apiKey,
      users: Array.from({length: plan.users}, (_, i) => i).filter((i) => i % shards === k),
      spawnRate: plan.spawnRate,
      durationMs: plan.durationMs,
      seed: (plan.seed + k * 7919) >>> 0,
      runId: plan.runId,
      rate: plan.rate ? plan.rate / shards : undefined,
      shard: {index: k, of: shards},
      timeoutMs: plan.timeoutMs,
      scenario: scenarioModule(plan.scenario),
      starveMs: plan.starveMs,
      idempotency: plan.idempotency,
    }
  })
}

type Msg = ({type: 'interval'} & IntervalReport) | ({type: 'done'} & IntervalReport) | {type: 'ready'} | {type: 'error'; message: string}

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

/** The signals of several threads as one generator's: the worst loop, all the sends. */
export function combineHealth(health: readonly GeneratorHealth[]): GeneratorHealth {
  return {
    lagP99Ms: Math.max(0, ...health.map((h) => h.lagP99Ms)),
    utilisation: Math.max(0, ...health.map((h) => h.utilisation)),
    sends: health.reduce((s, h) => s + h.sends, 0),
    lateSends: health.reduce((s, h) => s + h.lateSends, 0),
  }
}

/** A generator made of worker threads in this process, each on its own event loop. */
export function threadGenerator(configs: GeneratorConfig[], name = ''): GeneratorHandle {
  const workers = configs.map((cfg) => startWorker(import.meta.url, 'worker', {workerData: cfg}))
  const done = Promise.all(workers.map((w) => next(w, 'done'))).then((finals) => ({
    parts: finals,
    health: combineHealth(finals.map((f) => f.health)),
  }))
  done.catch(() => {}) // the runner awaits it; until then a failure is not unhandled
  const ready = Promise.all(workers.map((w) => next(w, 'ready'))).then(() => {})
  ready.catch(() => {})
  return {
    name,
    ready,
    done,
    start: (startInMs) => {
      for (const w of workers) w.postMessage({type: 'start', startEpochMs: Date.now() + startInMs})
    },
    collect: async () => {
      const parts = await Promise.all(
        workers.map((w) => {
          const reply = next(w, 'interval').catch(() => undefined)
          w.postMessage({type: 'tick'})
          // A thread that has just finished answers no tick; its numbers come with 'done'.
          return Promise.race([reply, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))])
        }),
      )
      return parts.filter((p): p is NonNullable<typeof p> => !!p)
    },
    stop: (abandon) => {
      for (const w of workers) w.postMessage({type: 'stop', abandon})
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}
