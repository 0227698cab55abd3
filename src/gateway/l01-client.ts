import {Pool} from 'undici'
import {PlatformError} from '../core/index.js'

export interface UpstreamResponse {
  status: number
  /** L01's JSON body as it came (empty for a 204): relayed without parsing it again */
  text: string
  /** L01 answered a create from an earlier request with the same Idempotency-Key */
  replayed?: boolean
}

/** The parsed body of an answer, for the few callers that read it. */
export const bodyOf = (res: UpstreamResponse): unknown => (res.text ? JSON.parse(res.text) : undefined)

export interface L01ClientOptions {
  /** L01's base URL, e.g. http://127.0.0.1:8001 */
  baseUrl: string
  /** L01's Unix socket on this machine, when it has one: connections go there instead of the URL's address. */
  socketPath?: string
  /** The internal key L01 requires. */
  apiKey: string
  /** Connect, headers and body timeout for every call. */
  timeoutMs?: number
  connections?: number
}

export interface CallOptions {
  requestId?: string
  /** the caller's Idempotency-Key, forwarded as it came */
  idempotencyKey?: string
  query?: string
  /** the value to send as JSON */
  body?: unknown
  /** the same value as JSON text, when the caller has it (a proxy forwarding what it was sent): sent as it is */
  bodyText?: string
}

type Query = Record<string, string | number | undefined>
type PageQuery = {limit?: number; offset?: number; count?: string}

/** Keeps only the query parameters L01 knows for a route, as a query string. */
export function queryString(q: Query | undefined): string {
  if (!q) return ''
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v))
  const s = params.toString()
  return s ? `?${s}` : ''
}

const seg = encodeURIComponent

/** What L09 needs of L01: every route it relays, readiness, the start-up probe. Over HTTP (L01Client) or in-process (InProcessL01). */
export type L01 = Pick<
  L01Client,
  | 'baseUrl'
  | 'createAgent'
  | 'listAgents'
  | 'getAgent'
  | 'patchAgent'
  | 'deleteAgent'
  | 'createGoal'
  | 'listGoals'
  | 'getGoal'
  | 'patchGoal'
  | 'createTask'
  | 'listTasks'
  | 'getTask'
  | 'patchTask'
  | 'ready'
  | 'probe'
  | 'close'
>

/**
 * L09's way to L01: one keep-alive undici pool, the internal key and the caller's request
 * id on every call. A call that failed before L01 could act on it (or that is safe to
 * repeat) is sent once more, so one replica going away is not an error. Connection failures
 * and timeouts then become one error, UPSTREAM_UNAVAILABLE; any HTTP answer, 4xx included,
 * is returned as it came.
 */
export class L01Client {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly #pool: Pool
  readonly #apiKey: string

  constructor(opts: L01ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.timeoutMs = opts.timeoutMs ?? 5000
    this.#apiKey = opts.apiKey
    this.#pool = new Pool(this.baseUrl, {
      ...(opts.socketPath ? {socketPath: opts.socketPath} : {}),
      connections: opts.connections ?? 128,
      keepAliveTimeout: 30_000,
      connectTimeout: this.timeoutMs,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    })
  }

  async call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, opts: CallOptions = {}): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {'x-api-key': this.#apiKey, accept: 'application/json'}
    if (opts.requestId) headers['x-request-id'] = opts.requestId
    if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const send = () =>
      this.#pool.request({
        method,
        path: path + (opts.query ?? ''),
        headers,
        body: opts.body === undefined ? undefined : (opts.bodyText ?? JSON.stringify(opts.body)),
      })
    try {
      let res: Awaited<ReturnType<typeof send>>
      try {
        res = await send()
      } catch (err) {
        // Once, and only when the retry cannot write twice (see retriable): a replica that just went away.
        if (!retriable(err, method, opts.idempotencyKey !== undefined)) throw err
        res = await send()
      }
      const text = await res.body.text()
      return res.headers['idempotent-replay'] === 'true' ? {status: res.statusCode, text, replayed: true} : {status: res.statusCode, text}
    } catch (err) {
      throw new PlatformError(
        'UPSTREAM_UNAVAILABLE',
        `the data layer (L01) at ${this.baseUrl} is unavailable: ${describe(err, this.timeoutMs)}`,
        {cause: err},
      )
    }
  }

  // Typed calls for every L01 route the gateway uses.
  createAgent = (body: unknown, o?: CallOptions) => this.call('POST', '/agents/', {...o, body})
  listAgents = (q: {status?: string} & PageQuery, o?: CallOptions) => this.call('GET', '/agents/', {...o, query: queryString(q)})
  getAgent = (id: string, o?: CallOptions) => this.call('GET', `/agents/${seg(id)}`, o)
  patchAgent = (id: string, body: unknown, o?: CallOptions) => this.call('PATCH', `/agents/${seg(id)}`, {...o, body})
  deleteAgent = (id: string, o?: CallOptions) => this.call('DELETE', `/agents/${seg(id)}`, o)
  createGoal = (body: unknown, o?: CallOptions) => this.call('POST', '/goals/', {...o, body})
  listGoals = (q: {agent_id?: string; status?: string} & PageQuery, o?: CallOptions) =>
    this.call('GET', '/goals/', {...o, query: queryString(q)})
  getGoal = (id: string, o?: CallOptions) => this.call('GET', `/goals/${seg(id)}`, o)
  patchGoal = (id: string, body: unknown, o?: CallOptions) => this.call('PATCH', `/goals/${seg(id)}`, {...o, body})
  createTask = (body: unknown, o?: CallOptions) => this.call('POST', '/plans/tasks/', {...o, body})
  listTasks = (q: {plan_id?: string; agent_id?: string; status?: string} & PageQuery, o?: CallOptions) =>
    this.call('GET', '/plans/tasks/', {...o, query: queryString(q)})
  getTask = (id: string, o?: CallOptions) => this.call('GET', `/plans/tasks/${seg(id)}`, o)
  patchTask = (id: string, body: unknown, o?: CallOptions) => this.call('PATCH', `/plans/tasks/${seg(id)}`, {...o, body})
  ready = (o?: CallOptions) => this.call('GET', '/health/ready', o)

  /**
   * Called once at start: a 401 means L09 and L01 hold different internal keys, which
   * would otherwise show up as a stream of 401s. An unreachable L01 is not an error here
   * (it may still be starting); readiness reports it.
   */
  async probe(): Promise<'ok' | 'unreachable'> {
    let res: UpstreamResponse
    try {
      res = await this.listAgents({limit: 1})
    } catch {
      return 'unreachable'
    }
    if (res.status === 401) {
      throw new PlatformError('CONFIG_INVALID', `the data layer (L01) at ${this.baseUrl} refused the gateway's internal key`, {
        suggestion:
          'give the gateway (L09) and the data layer (L01) the same L01_API_KEY; the embedded default keeps one in .platform/internal.key',
      })
    }
    return 'ok'
  }

  close(): Promise<void> {
    return this.#pool.close()
  }
}

/** The connection was never made: L01 saw nothing, so any request may go again. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'])
/** The connection broke with the request sent, perhaps done: again only when doing it twice is harmless. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

/**
 * Whether a failed call may be sent once more: it never reached L01, or it is a read, or a
 * create L01 keeps by its Idempotency-Key. A timeout is never retried: its time is spent.
 */
function retriable(err: unknown, method: string, idempotent: boolean): boolean {
  const code = (err as {code?: string}).code ?? ''
  return NOT_CONNECTED.has(code) || (BROKEN.has(code) && (method === 'GET' || idempotent))
}

function describe(err: unknown, timeoutMs: number): string {
  const e = err as {name?: string; code?: string; message?: string}
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(e.code ?? '')) return `no answer within ${timeoutMs} ms`
  return e.code ?? e.message ?? 'connection failed'
}
