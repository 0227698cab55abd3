import {PlatformError} from '../core/index.js'
import {
  idempotencyKey,
  operations,
  resourceAt,
  routesOf,
  schemasOf,
  type ListParams,
  type Resource,
  type Store,
} from '../data-layer/index.js'
import {formatValidation, toPlatformError, validatorCompiler} from '../server/index.js'
import type {Answered} from '../observability/index.js'
import {queryString, type CallOptions, type L01, type UpstreamResponse} from './l01-client.js'

type Body = Record<string, unknown>
type Query = Record<string, string | number | undefined>
type Part = 'params' | 'body' | 'querystring'
type Compile = ReturnType<typeof validatorCompiler>

export interface InProcessOptions {
  /** L01's own URL, for messages. */
  baseUrl: string
  /** The same bound as the HTTP client's: no answer within it is UPSTREAM_UNAVAILABLE. */
  timeoutMs?: number
  /** Where an internal error is logged, as L01's error handler logs it. */
  logError?: (err: unknown, requestId?: string) => void
  /** L01's metrics and request line for each call (responseObserver of L01's logger and metrics). */
  observe?: (a: Answered) => void
}

/** One resource's calls: its validators compiled once, and its operations. */
function resourceCalls(store: Store, r: Resource, compile: Compile) {
  const s = schemasOf(r)
  const k = r.entity.spec.key
  const check = (schema: object, httpPart: Part) => {
    const validate = compile({schema, httpPart})
    return (value: unknown): void => {
      if (!validate(value)) throw formatValidation(validate.errors!, httpPart)
    }
  }
  const v = {
    params: check(s.params, 'params'),
    create: check(s.create, 'body'),
    patch: check(s.patch, 'body'),
    query: check(s.query, 'querystring'),
  }
  const ops = operations(store, r)
  const key = (id: string) => {
    const params = {[k]: id}
    v.params(params)
    return params[k]!
  }
  return {
    create: async (body: unknown, o: CallOptions): Promise<UpstreamResponse> => {
      v.create(body)
      const {json, replay} = await ops.create(body as Body, idempotencyKey({'idempotency-key': o.idempotencyKey}))
      return replay ? {status: 201, text: json, replayed: true} : {status: 201, text: json}
    },
    list: async (q: Query): Promise<UpstreamResponse> => {
      // As the HTTP client sends them: the parameters given, each as text.
      const query: Record<string, string> = {}
      for (const [name, value] of Object.entries(q)) if (value !== undefined) query[name] = String(value)
      v.query(query)
      return {status: 200, text: await ops.list(query as unknown as ListParams)}
    },
    get: async (id: string): Promise<UpstreamResponse> => ({status: 200, text: await ops.get(key(id))}),
    patch: async (id: string, body: unknown): Promise<UpstreamResponse> => {
      const at = key(id)
      v.patch(body)
      return {status: 200, text: await ops.patch(at, body as Body)}
    },
    remove: async (id: string): Promise<UpstreamResponse> => {
      await ops.remove(key(id))
      return {status: 204, text: ''}
    },
  }
}

type Op = 'create' | 'list' | 'get' | 'patch' | 'remove'
interface Arg {
  id?: string
  body?: unknown
  q?: Query
}
const METHOD: Record<Op, string> = {create: 'POST', list: 'GET', get: 'GET', patch: 'PATCH', remove: 'DELETE'}

/**
 * L09's way to an L01 that runs in its own event loop (the shared and inline topologies): the
 * same operations L01's routes run, on the same store, with no socket, no second HTTP parse
 * and no second auth between them. Each part of a call is validated against the schemas L01's
 * routes use, compiled by the same compiler, in Fastify's order (params, body, query), and
 * every refusal becomes the answer L01 would have sent: so the gateway relays the same status
 * and body either way (test/db/l01-in-process.test.ts compares them with a real L01). Each
 * call is observed as L01 observes a request (its metrics and its request line, under L01's
 * route and the caller's request id), so one request can still be followed through both logs.
 */
export class InProcessL01 implements L01 {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly #store: Store
  readonly #opts: InProcessOptions
  readonly #resources: Map<string, {r: Resource; calls: ReturnType<typeof resourceCalls>}>

  constructor(store: Store, opts: InProcessOptions) {
    this.#store = store
    this.#opts = opts
    this.baseUrl = opts.baseUrl
    this.timeoutMs = opts.timeoutMs ?? 5000
    const compile = validatorCompiler()
    this.#resources = new Map(
      ['/agents', '/goals', '/plans/tasks'].map((p) => [p, {r: resourceAt(p), calls: resourceCalls(store, resourceAt(p), compile)}]),
    )
  }

  /** One operation of a resource, answered as L01 answers it, and observed as L01 observes a request. */
  #do(prefix: string, op: Op, o: CallOptions | undefined, arg: Arg): Promise<UpstreamResponse> {
    const {r, calls} = this.#resources.get(prefix)!
    const run = () => {
      if (op === 'create') return calls.create(arg.body, o ?? {})
      if (op === 'list') return calls.list(arg.q ?? {})
      if (op === 'patch') return calls.patch(arg.id!, arg.body)
      return calls[op](arg.id!)
    }
    const observe = this.#opts.observe
    if (!observe) return this.#answer(o, run)
    const started = performance.now()
    return this.#answer(o, run).then((res) => {
      const keyed = arg.id !== undefined
      observe({
        reqId: o?.requestId ?? '',
        method: METHOD[op],
        route: keyed ? routesOf(r).item : routesOf(r).collection,
        url: keyed ? `${prefix}/${encodeURIComponent(arg.id!)}` : `${prefix}/${op === 'list' ? queryString(arg.q) : ''}`,
        status: res.status,
        elapsedMs: performance.now() - started,
      })
      return res
    })
  }

  /** Runs a call as L01 answers it: a refusal is a 4xx answer, not an error; only no answer in time is. */
  async #answer(o: CallOptions | undefined, run: () => Promise<UpstreamResponse>): Promise<UpstreamResponse> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PlatformError('UPSTREAM_UNAVAILABLE', this.#late())), this.timeoutMs)
    })
    try {
      return await Promise.race([run(), late])
    } catch (err) {
      if (err instanceof PlatformError && err.code === 'UPSTREAM_UNAVAILABLE') throw err
      const e = toPlatformError(err as Parameters<typeof toPlatformError>[0])
      if (e.code === 'INTERNAL') this.#opts.logError?.(err, o?.requestId)
      return {status: e.status, text: JSON.stringify(e.toBody())}
    } finally {
      clearTimeout(timer)
    }
  }

  #late = () => `the data layer (L01) at ${this.baseUrl} is unavailable: no answer within ${this.timeoutMs} ms`

  createAgent = (body: unknown, o?: CallOptions) => this.#do('/agents', 'create', o, {body})
  listAgents = (q: Query, o?: CallOptions) => this.#do('/agents', 'list', o, {q})
  getAgent = (id: string, o?: CallOptions) => this.#do('/agents', 'get', o, {id})
  patchAgent = (id: string, body: unknown, o?: CallOptions) => this.#do('/agents', 'patch', o, {id, body})
  deleteAgent = (id: string, o?: CallOptions) => this.#do('/agents', 'remove', o, {id})
  createGoal = (body: unknown, o?: CallOptions) => this.#do('/goals', 'create', o, {body})
  listGoals = (q: Query, o?: CallOptions) => this.#do('/goals', 'list', o, {q})
  getGoal = (id: string, o?: CallOptions) => this.#do('/goals', 'get', o, {id})
  patchGoal = (id: string, body: unknown, o?: CallOptions) => this.#do('/goals', 'patch', o, {id, body})
  createTask = (body: unknown, o?: CallOptions) => this.#do('/plans/tasks', 'create', o, {body})
  listTasks = (q: Query, o?: CallOptions) => this.#do('/plans/tasks', 'list', o, {q})
  getTask = (id: string, o?: CallOptions) => this.#do('/plans/tasks', 'get', o, {id})
  patchTask = (id: string, body: unknown, o?: CallOptions) => this.#do('/plans/tasks', 'patch', o, {id, body})

  /** L01's readiness: its database answers. */
  ready = (o?: CallOptions) =>
    this.#answer(o, async () => {
      await this.#store.db.query('SELECT 1')
      return {status: 200, text: ''}
    })

  /** Nothing to probe: there is no key between the two. */
  probe = async (): Promise<'ok'> => 'ok'

  /** The store is L01's, released when L01 stops. */
  close = async (): Promise<void> => {}
}
