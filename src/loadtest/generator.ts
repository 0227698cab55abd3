import {randomUUID} from 'node:crypto'
import {setMaxListeners} from 'node:events'
import {monitorEventLoopDelay, performance} from 'node:perf_hooks'
import {Pool} from 'undici'
import {FailureGroups, failureMessage} from './failures.js'
import {Rng} from './random.js'
import {UserState, kindOf, prepare, step, type ApiRequest, type ApiResponse, type Scenario, type Send} from './scenario.js'
import {IntervalRecorder, type IntervalCounts} from './stats.js'
import type {FailureGroup} from './types.js'

export interface GeneratorConfig {
  target: string
  apiKey: string
  /** Global indexes of this generator's users (closed model). */
  users: number[]
  /** Users started per second, over all generators. */
  spawnRate: number
  durationMs: number
  seed: number
  runId: string
  /** Requests per second for this generator (open model); absent for the closed model. */
  rate?: number
  /** This generator's share of the arrival offsets (open model): its index and the count. */
  shard: {index: number; of: number}
  timeoutMs: number
  /** The scenario's module URL (see Scenario.module). */
  scenario: string
  /** Test fault injection: block the event loop this many ms every 50 ms. */
  starveMs?: number
  /** Every create carries an Idempotency-Key and is sent once more, with the same key, after a 503 or no answer. */
  idempotency?: boolean
}

export interface IntervalReport {
  endpoints: Record<string, IntervalCounts>
  failures: FailureGroup[]
  active: number
  /** the validity signals so far */
  health: GeneratorHealth
}

export interface GeneratorHealth {
  lagP99Ms: number
  utilisation: number
  sends: number
  lateSends: number
  /** the generator process's CPU time over wall time (1 = one core busy), where a generator process reports it */
  cpu?: number
}

/** A send (or a wake-up to send) later than this was delayed by the generator itself. */
const LATE_MS = 50
/**
 * monitorEventLoopDelay's sampling interval. Its samples are the whole intervals between its
 * timer's callbacks, this one included: an idle loop shows ~10 ms, so it is taken off the lag.
 */
const LAG_RESOLUTION_MS = 10
/** Requests sent before the run to warm the generator up (see warmUp), how many at a time, and for how long at most. */
const WARM_UP = {requests: 256, concurrency: 64, budgetMs: 2000} as const

/** The code and what it says (which address refused), e.g. "connect ECONNREFUSED 127.0.0.1:8009". */
const transportMessage = ({code, message}: {code?: string; message?: string}): string =>
  code && message && !message.includes(code) ? `${code}: ${message}` : (message ?? code ?? 'connection error')

/**
 * Runs virtual users against the target: thousands of cheap async loops (closed model),
 * or requests at fixed arrival times measured from when they were due (open model).
 */
export class Generator {
  readonly #cfg: GeneratorConfig
  readonly #scenario: Scenario
  readonly #pool: Pool
  readonly #connections: number
  readonly #recorder = new IntervalRecorder()
  readonly #failures = new FailureGroups()
  readonly #cancels = new Set<() => void>()
  readonly #lag = monitorEventLoopDelay({resolution: LAG_RESOLUTION_MS})
  /** Aborted when the run is interrupted: requests in flight are dropped, not counted. */
  readonly #abandon = new AbortController()
  /** Open model: one user per kind, whose ids every arrival of its kind shares (see prepare). */
  readonly #kinds: Array<{weight: number; state: UserState}>
  #stopped = false
  #active = 0
  #sends = 0
  #late = 0
  #start = 0
  #elu0?: ReturnType<typeof performance.eventLoopUtilization>

  constructor(cfg: GeneratorConfig, scenario: Scenario) {
    this.#cfg = cfg
    this.#scenario = scenario
    const rng = new Rng(cfg.seed)
    this.#kinds = cfg.rate
      ? scenario.kinds.map((kind, i) => ({weight: kind.weight, state: new UserState(kind, rng.fork(i), cfg.runId)}))
      : []
    // Every request in flight listens on it until it ends: thousands at once is the normal case.
    setMaxListeners(0, this.#abandon.signal)
    const connections = (this.#connections = cfg.rate ? 1024 : Math.max(1, Math.min(cfg.users.length, 1024)))
    this.#pool = new Pool(cfg.target, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: cfg.timeoutMs,
      bodyTimeout: cfg.timeoutMs,
      connectTimeout: cfg.timeoutMs,
    })
  }

  /**
   * Before the run: GET /health/ready (what the preflight asks too) a few hundred times through
   * the pool, recorded nowhere. A cold generator (no connections, undici's and the parsing code
   * not yet compiled) is so slow in its first second that at a few thousand requests per second
   * it falls hundreds of milliseconds behind, opens hundreds of connections, and reports its own
   * delay as the target's latency. Bounded in time; a failure here is left to the run to report.
   */
  async warmUp(): Promise<void> {
    const deadline = performance.now() + WARM_UP.budgetMs
    const headers = {'x-api-key': this.#cfg.apiKey, accept: 'application/json'}
    let left = WARM_UP.requests
    const lane = async () => {
      for (let ms = deadline - performance.now(); left-- > 0 && ms > 0; ms = deadline - performance.now()) {
        const r = await this.#pool.request({method: 'GET', path: '/health/ready', headers, signal: AbortSignal.timeout(Math.ceil(ms))})
        const text = await r.body.text()
        try {
          JSON.parse(text)
        } catch {
          // not JSON: only the code path matters here
        }
      }
    }
    await Promise.all(Array.from({length: Math.min(WARM_UP.concurrency, this.#connections)}, () => lane().catch(() => undefined)))
  }

  /** Seconds since the run started. */
  #t = () => (performance.now() - this.#start) / 1000

  /**
   * Open model: each kind's user takes its on-start and prepare steps, unrecorded, so that from
   * the first arrival on every task has the ids it needs (see scenario.ts's prepare).
   */
  async prepare(): Promise<void> {
    const send: Send = async (req) => (await this.#exchange(req)).res
    await Promise.all(this.#kinds.map(({state}) => prepare(state, send)))
  }

  /** Sends one request: its response, or why none came (the transport's error). */
  async #exchange(req: ApiRequest, idempotencyKey?: string): Promise<{res: ApiResponse; transport?: string}> {
    const headers: Record<string, string> = {'x-api-key': this.#cfg.apiKey, 'content-type': 'application/json', accept: 'application/json'}
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey
    try {
      const r = await this.#pool.request({
        method: req.method,
        path: req.path,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: this.#abandon.signal,
      })
      return {res: lazyBody(r.statusCode, await r.body.text())}
    } catch (err) {
      const e = err as {code?: string; message?: string}
      return {
        res: {status: null},
        transport: /TIMEOUT/.test(e.code ?? '') ? `timeout after ${this.#cfg.timeoutMs} ms` : transportMessage(e),
      }
    }
  }

  /** Sends one request and records it; its latency runs from `from`. */
  async #attempt(req: ApiRequest, from: number, idempotencyKey?: string): Promise<ApiResponse> {
    const {res, transport} = await this.#exchange(req, idempotencyKey)
    if (transport !== undefined && this.#abandon.signal.aborted) return res // dropped by the interruption, not a failure
    const failed = res.status === null || res.status >= 400
    this.#recorder.record(req.endpoint, performance.now() - from, failed)
    if (failed) this.#failures.add(req, res, failureMessage(res, transport), {t: Math.round(this.#t() * 10) / 10, users: this.#active})
    return res
  }

  /**
   * Sends one request; its latency runs from dueAt (the intended send time) when given. With
   * idempotency a create whose outcome is unknown (503, or no answer) is sent once more with
   * the same key: the first attempt stays a failure, the retry is a request of its own.
   */
  #send(dueAt?: number): Send {
    return async (req: ApiRequest): Promise<ApiResponse> => {
      const key = this.#cfg.idempotency && req.method === 'POST' ? randomUUID() : undefined
      const res = await this.#attempt(req, dueAt ?? performance.now(), key)
      const unknown = res.status === null || res.status === 503
      return key && unknown && !this.#abandon.signal.aborted ? this.#attempt(req, performance.now(), key) : res
    }
  }

  /** Resolves at performance time `at`, or at once when the run stops. Counts wake-ups that came late. */
  #sleepUntil(at: number): Promise<void> {
    const wait = at - performance.now()
    if (this.#stopped) return Promise.resolve()
    if (wait <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.#cancels.delete(cancel)
        resolve()
      }
      // A timer may fire up to a millisecond early (libuv counts whole milliseconds): sleep on until `at`.
      const wake = () => {
        const now = performance.now()
        if (now < at) return void (timer = setTimeout(wake, at - now))
        this.#sends++
        if (now - at > LATE_MS) this.#late++
        done()
      }
      let timer = setTimeout(wake, wait)
      const cancel = () => {
        clearTimeout(timer)
        done()
      }
      this.#cancels.add(cancel)
    })
  }

  async #user(index: number, rng: Rng): Promise<void> {
    await this.#sleepUntil(this.#start + (index / this.#cfg.spawnRate) * 1000)
    if (this.#stopped) return
    this.#active++
    const u = new UserState(kindOf(this.#scenario.kinds, index), rng, this.#cfg.runId)
    const send = this.#send()
    try {
      while (!this.#stopped) {
        await step(u, send)
        if (this.#stopped) break
        await this.#sleepUntil(performance.now() + rng.int(this.#scenario.thinkMs.min, this.#scenario.thinkMs.max))
      }
    } finally {
      this.#active--
    }
  }

  /**
   * One arrival of the open model: one request, of a kind and task drawn from the arrival's own
   * random stream, so that what the k-th arrival sends depends on the seed and k alone: neither
   * on when earlier arrivals were answered nor on how their draws interleaved. Its kind's ids
   * were made before the run (prepare), so a task that needs one has one whatever the target's
   * latency. Only with none at all (the target refused those creates, or deletes ran ahead of
   * its answers) does a task send nothing, and the arrival draws again, a few times at most.
   */
  async #arrival(rng: Rng, send: Send): Promise<void> {
    for (let tries = 0; tries < 8; tries++) {
      let sent = false
      await step(
        rng.weighted(this.#kinds).state.drawingFrom(rng),
        (req) => {
          sent = true
          return send(req)
        },
        true,
      )
      if (sent) return
    }
  }

  async #open(rate: number, rng: Rng): Promise<void> {
    // rate is this shard's: its arrivals are 1000/rate ms apart, interleaved with the other shards'.
    const gap = 1000 / rate
    const offset = (gap * this.#cfg.shard.index) / this.#cfg.shard.of
    const inFlight = new Set<Promise<void>>()
    const end = this.#start + this.#cfg.durationMs
    for (let k = 0; ; k++) {
      const due = this.#start + offset + k * gap
      if (due >= end || this.#stopped) break
      if (due > performance.now()) await this.#sleepUntil(due)
      else {
        this.#sends++
        if (performance.now() - due > LATE_MS) this.#late++
      }
      if (this.#stopped) break
      const p = this.#arrival(rng.at(k), this.#send(due)).finally(() => {
        inFlight.delete(p)
        this.#active = inFlight.size
      })
      inFlight.add(p)
      this.#active = inFlight.size
      // Let responses be handled between sends that are already due.
      if (k % 64 === 63) await new Promise((r) => setImmediate(r))
    }
    await Promise.allSettled([...inFlight])
  }

  /** Runs until the duration is over or stop() is called, then waits for requests in flight. */
  async run(startEpochMs: number): Promise<GeneratorHealth> {
    this.#start = performance.now() + (startEpochMs - Date.now())
    const rng = new Rng(this.#cfg.seed)
    this.#elu0 = performance.eventLoopUtilization()
    this.#lag.enable()
    const starve = this.#cfg.starveMs
      ? setInterval(() => {
          const until = performance.now() + this.#cfg.starveMs!
          while (performance.now() < until) {
            // deliberately busy: a starved generator, for the validity check's own test
          }
        }, 50)
      : undefined
    const timer = setTimeout(() => this.stop(), Math.max(0, this.#start + this.#cfg.durationMs - performance.now()))
    try {
      if (this.#cfg.rate) await this.#open(this.#cfg.rate, rng)
      else await Promise.all(this.#cfg.users.map((i) => this.#user(i, rng.fork(i))))
    } finally {
      clearTimeout(timer)
      if (starve) clearInterval(starve)
      this.#lag.disable()
    }
    return this.health()
  }

  /** The validity signals since the run started (zeros before it). */
  health(): GeneratorHealth {
    const elu = this.#elu0 ? performance.eventLoopUtilization(this.#elu0) : {utilization: 0}
    const lagNs = this.#elu0 ? this.#lag.percentile(99) : 0
    return {
      lagP99Ms: Math.round(Math.max(0, lagNs / 1e6 - LAG_RESOLUTION_MS) * 100) / 100,
      utilisation: Math.round(elu.utilization * 1000) / 1000,
      sends: this.#sends,
      lateSends: this.#late,
    }
  }

  /** Ends the run; with abandon (an interrupted run) requests in flight are dropped rather than awaited. */
  stop(abandon = false): void {
    this.#stopped = true
    if (abandon) this.#abandon.abort()
    for (const cancel of [...this.#cancels]) cancel()
  }

  /** What happened since the last report. */
  report(): IntervalReport {
    return {endpoints: this.#recorder.drain(), failures: this.#failures.drain(), active: this.#active, health: this.health()}
  }

  close(): Promise<void> {
    return this.#pool.close()
  }
}

/**
 * A response whose JSON is parsed only if something reads it (a scenario taking an id from
 * a 201, a failure sample): most bodies, such as a list page of 40 KB, are never looked at,
 * and parsing them would be the generator's busiest work.
 */
function lazyBody(status: number, text: string): ApiResponse {
  let parsed: {body: unknown} | undefined
  return {
    status,
    get body() {
      if (!parsed) {
        try {
          parsed = {body: text ? JSON.parse(text) : undefined}
        } catch {
          parsed = {body: text} // not JSON: the text, for the failure sample
        }
      }
      return parsed.body
    },
  }
}
