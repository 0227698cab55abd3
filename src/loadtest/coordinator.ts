import {createHash, timingSafeEqual} from 'node:crypto'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {PlatformError, isErrorCode, isPlatformError, type ErrorCode} from '../core/index.js'
import type {Final, GeneratorHandle, Plan} from './fleet.js'
import type {GeneratorHealth, IntervalReport} from './generator.js'

/**
 * The coordinator's side of a distributed run: an HTTP server the generators call, each
 * request carrying the run's token (Authorization: Bearer). The protocol, in order:
 *
 *   POST /v1/register {node}              -> {index, of, plan, intervalS}   (409 once the run has its generators)
 *   POST /v1/ready    {index}             -> held until every generator is ready: {startInMs, command}
 *   POST /v1/report   {index, parts, health} every interval -> {command: run | stop | abandon}
 *   POST /v1/done     {index, parts, health}
 *   POST /v1/fail     {index, code, message}  (it cannot run: the target refused it, say)
 *
 * A generator that sends nothing for `silentIntervals` intervals is lost: the run ends INVALID, naming it.
 */
export const PROTOCOL_PATH = '/v1'

export interface Registration {
  index: number
  of: number
  plan: Plan
  intervalS: number
}
export type GeneratorCommand = 'run' | 'stop' | 'abandon'
export interface ReportBody {
  index: number
  parts: IntervalReport[]
  health: GeneratorHealth
}

export interface CoordinatorOptions {
  token: string
  /** generators the run waits for */
  expected: number
  /** seconds between a generator's reports */
  intervalS: number
  /** how long generators have to register, and each to get ready after it registered */
  readyTimeoutMs?: number
  /** intervals without a word after which a generator is lost */
  silentIntervals?: number
}

export interface Coordinator {
  /** not listening yet: the caller listens on the address it advertises */
  readonly server: Server
  /** Sets the run's plan and resolves with a handle per generator once every one has registered. */
  enrol(plan: Plan, signal?: AbortSignal): Promise<GeneratorHandle[]>
}

const MAX_BODY = 64 * 1024 * 1024

class Deferred<T> {
  resolve!: (v: T) => void
  reject!: (e: unknown) => void
  settled = false
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = (v) => {
      this.settled = true
      res(v)
    }
    this.reject = (e) => {
      this.settled = true
      rej(e)
    }
  })
  constructor() {
    this.promise.catch(() => {}) // awaited by the runner; not unhandled before that
  }
}

const seconds = (ms: number) => Math.round(ms / 1000)

/** One registered generator, as the runner sees it: its reports arrive by HTTP and wait here to be collected. */
class RemoteGenerator implements GeneratorHandle {
  readonly name: string
  readonly #ready = new Deferred<void>()
  readonly #done = new Deferred<Final>()
  #parts: IntervalReport[] = []
  #health: GeneratorHealth = {lagP99Ms: 0, utilisation: 0, sends: 0, lateSends: 0}
  #command: GeneratorCommand = 'run'
  #release?: (startInMs: number) => void
  #startedAt?: number
  #lastSeen = 0
  #timers: NodeJS.Timeout[] = []

  constructor(
    readonly index: number,
    readonly node: string,
    readonly opts: Required<Pick<CoordinatorOptions, 'intervalS' | 'readyTimeoutMs' | 'silentIntervals'>>,
  ) {
    this.name = `generator ${index + 1}`
    const notReady = setTimeout(() => {
      this.#ready.reject(
        new PlatformError('GENERATOR_LOST', `${this.#who} registered but was not ready within ${seconds(opts.readyTimeoutMs)} s`),
      )
    }, opts.readyTimeoutMs)
    this.#timers.push(notReady)
    void this.#ready.promise.then(
      () => clearTimeout(notReady),
      () => {},
    )
  }

  get ready() {
    return this.#ready.promise
  }
  get done() {
    return this.#done.promise
  }
  get #who() {
    return `${this.name} on node ${this.node}`
  }

  /** The generator is warm: its /ready answer waits for start(). */
  waitForStart(): Promise<number> {
    this.#ready.resolve()
    return new Promise((resolve) => (this.#release = resolve))
  }

  /** It cannot go on: before the start that fails the run; during it the run ends invalid, naming it and why. */
  failed(code: ErrorCode, message: string): void {
    if (!this.#ready.settled) {
      this.#ready.reject(new PlatformError(code, `${this.#who}: ${message}`))
      return
    }
    const at = this.#startedAt === undefined ? 0 : Math.max(0, seconds(Date.now() - this.#startedAt))
    if (!this.#done.settled)
      this.#done.resolve({parts: this.#take(), health: this.#health, lost: `${this.#who} failed at ${at} s: ${message}`})
  }

  start(startInMs: number): void {
    this.#startedAt = Date.now() + startInMs
    this.#lastSeen = this.#startedAt
    this.#release?.(startInMs)
    const limitMs = this.opts.silentIntervals * this.opts.intervalS * 1000
    this.#timers.push(
      setInterval(
        () => {
          if (this.#done.settled || Date.now() - this.#lastSeen <= limitMs) return
          const at = Math.max(0, seconds(this.#lastSeen - this.#startedAt!))
          this.#done.resolve({parts: this.#take(), health: this.#health, lost: `${this.#who} stopped reporting at ${at} s`})
        },
        Math.max(100, (this.opts.intervalS * 1000) / 4),
      ),
    )
  }

  #take(): IntervalReport[] {
    const parts = this.#parts
    this.#parts = []
    return parts
  }

  /** An interval's report; the answer is what the generator should do next. */
  report(body: ReportBody): GeneratorCommand {
    this.#lastSeen = Date.now()
    this.#parts.push(...body.parts)
    this.#health = body.health
    return this.#command
  }

  finish(body: ReportBody): void {
    this.#lastSeen = Date.now()
    if (this.#done.settled) return
    this.#done.resolve({parts: [...this.#take(), ...body.parts], health: body.health})
  }

  get command(): GeneratorCommand {
    return this.#command
  }

  collect = async () => this.#take()

  stop(abandon = false): void {
    if (this.#command !== 'abandon') this.#command = abandon ? 'abandon' : 'stop'
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    // A generator still held at the barrier is let go (and told to stop).
    this.#command = this.#command === 'run' ? 'stop' : this.#command
    this.#release?.(0)
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest()

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new PlatformError('PAYLOAD_TOO_LARGE', `a report may be at most ${MAX_BODY} bytes`))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('error', reject)
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
        if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object')
        resolve(body as Record<string, unknown>)
      } catch {
        reject(new PlatformError('BAD_REQUEST', 'the body is not a JSON object'))
      }
    })
  })
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

/** Builds the coordinator for one run; it answers only requests that carry the run's token. */
export function buildCoordinator(options: CoordinatorOptions): Coordinator {
  const opts = {...options, readyTimeoutMs: options.readyTimeoutMs ?? 120_000, silentIntervals: options.silentIntervals ?? 3}
  const token = digest(opts.token)
  const gens: RemoteGenerator[] = []
  let plan: Plan | undefined
  let enrolled: Deferred<GeneratorHandle[]> | undefined

  const generator = (body: Record<string, unknown>) => {
    const g = Number.isInteger(body.index) ? gens[body.index as number] : undefined
    if (!g) throw new PlatformError('NOT_FOUND', `no generator ${String(body.index)} registered in this run`)
    return g
  }

  const routes: Record<string, (body: Record<string, unknown>) => unknown> = {
    register: (body) => {
      if (!plan || !enrolled) throw new PlatformError('UPSTREAM_UNAVAILABLE', 'the run is not taking generators yet')
      if (gens.length >= opts.expected) {
        throw new PlatformError('CONFLICT', `the run already has its ${opts.expected} generator(s); a late registration is refused`)
      }
      const node = typeof body.node === 'string' && body.node ? body.node.slice(0, 200) : 'unknown'
      const g = new RemoteGenerator(gens.length, node, opts)
      gens.push(g)
      if (gens.length === opts.expected) enrolled.resolve([...gens])
      return {index: g.index, of: opts.expected, plan, intervalS: opts.intervalS} satisfies Registration
    },
    ready: async (body) => {
      const g = generator(body)
      const startInMs = await g.waitForStart()
      return {startInMs, command: g.command}
    },
    report: (body) => ({command: generator(body).report(reportBody(body))}),
    done: (body) => {
      generator(body).finish(reportBody(body))
      return {}
    },
    fail: (body) => {
      const code = typeof body.code === 'string' && isErrorCode(body.code) ? body.code : 'GENERATOR_LOST'
      generator(body).failed(code, typeof body.message === 'string' ? body.message.slice(0, 2000) : 'it failed')
      return {}
    },
  }

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
        if (!given || !timingSafeEqual(digest(given), token)) throw new PlatformError('UNAUTHORIZED', 'missing or wrong run token')
        const route = req.method === 'POST' && req.url?.startsWith(`${PROTOCOL_PATH}/`) ? routes[req.url.slice(4)] : undefined
        if (!route) throw new PlatformError('NOT_FOUND', `no such call: ${req.method} ${req.url}`)
        send(res, 200, await route(await readJson(req)))
      } catch (err) {
        const e = isPlatformError(err) ? err : new PlatformError('INTERNAL', (err as Error).message)
        send(res, e.status, e.toBody())
      }
    })()
  })

  return {
    server,
    enrol: (p, signal) => {
      plan = p
      enrolled = new Deferred()
      const d = enrolled
      const timer = setTimeout(
        () =>
          d.reject(
            new PlatformError(
              'GENERATOR_LOST',
              `only ${gens.length} of ${opts.expected} generators registered within ${seconds(opts.readyTimeoutMs)} s`,
              {suggestion: 'check that the generators can reach the coordinator address (--coordinator-address)'},
            ),
          ),
        opts.readyTimeoutMs,
      )
      const abort = () => d.reject(new PlatformError('INTERRUPTED', `interrupted by ${String(signal?.reason)} before the load started`))
      signal?.addEventListener('abort', abort, {once: true})
      return d.promise.finally(() => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', abort)
      })
    },
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCounts = (c: unknown) => isObject(c) && typeof c.hist === 'string' && Number.isInteger(c.count) && Number.isInteger(c.failures)
const isPart = (p: unknown) =>
  isObject(p) && isObject(p.endpoints) && Object.values(p.endpoints).every(isCounts) && Array.isArray(p.failures) && isObject(p.health)

/** A report's body, checked for the shape the merge reads, so that a malformed one is refused rather than breaking the run. */
function reportBody(body: Record<string, unknown>): ReportBody {
  if (!Array.isArray(body.parts) || !body.parts.every(isPart) || !isObject(body.health)) {
    throw new PlatformError('BAD_REQUEST', 'a report needs parts (each with endpoints, failures and health) and health')
  }
  return body as unknown as ReportBody
}
