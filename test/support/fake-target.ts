/**
 * A fake L09 for the load-runner tests: a real HTTP server on 127.0.0.1 that answers the
 * contract's /api/v1 routes well enough for the load-test scenario (201 with a generated
 * id, lists as {items,total,limit,offset}, 200 objects, 204 on delete, 401 without the key).
 *
 * It exists because the runner must be tested against a target that is broken or slow on
 * demand (one route answering 500, one route sleeping, the whole server stalling once),
 * and the real platform cannot be made to be that. Its behaviour per endpoint can be
 * changed while it runs, and it records every request it answered.
 */
import {randomUUID} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {performance} from 'node:perf_hooks'

export interface Behaviour {
  /** answer after this many ms */
  delayMs?: number
  /** answer with this status and an error body whose message names the id */
  status?: number
  /** close the connection without an answer */
  drop?: boolean
  /** misbehave only on the first request with a given Idempotency-Key (a retry then succeeds) */
  firstOnly?: boolean
}

export interface Seen {
  method: string
  url: string
  /** method + route template, as the runner names it; undefined for routes outside /api/v1 */
  endpoint?: string
  /** 0 when the connection was closed without an answer */
  status: number
  /** performance.now() when the server began handling it */
  at: number
  idempotencyKey?: string
}

export interface FakeTarget {
  url: string
  apiKey: string
  /** every request answered, in order */
  requests: Seen[]
  /** every id handed out in a 201 body */
  issued: Set<string>
  /** when each stall began and ended (performance.now()) */
  stalls: Array<{start: number; end: number}>
  /** the behaviour of one endpoint ("PATCH /api/v1/agents/:id"), or of every /api/v1 route without its own ('*') */
  set(endpoint: string, behaviour: Behaviour): void
  /** every endpoint back to normal */
  reset(): void
  /** blocks the server's event loop once for ms, when the (after+1)-th /api/v1 request from now arrives */
  stall(ms: number, after?: number): void
  close(): Promise<void>
}

const KINDS = {
  agents: {key: 'id', param: ':id', noun: 'agent'},
  goals: {key: 'goal_id', param: ':goal_id', noun: 'goal'},
  tasks: {key: 'task_id', param: ':task_id', noun: 'task'},
} as const
type Kind = keyof typeof KINDS
const ROUTE = /^\/api\/v1\/(agents|goals|tasks)(?:\/([^/]+))?\/?$/
const CODES: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  500: 'INTERNAL',
  503: 'UPSTREAM_UNAVAILABLE',
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? JSON.parse(text) : undefined
}

/** Sleeps at least ms of real time (a timer alone may fire up to a millisecond early). */
async function sleepAtLeast(ms: number): Promise<void> {
  const until = performance.now() + ms
  for (let left = ms; left > 0; left = until - performance.now()) await new Promise((r) => setTimeout(r, left))
}

export async function startFakeTarget(apiKey = 'fake-target-key-0123456789abcdef'): Promise<FakeTarget> {
  const behaviours = new Map<string, Behaviour>()
  const store: Record<Kind, Map<string, Record<string, unknown>>> = {agents: new Map(), goals: new Map(), tasks: new Map()}
  const requests: Seen[] = []
  const issued = new Set<string>()
  const stalls: Array<{start: number; end: number}> = []
  const seenKeys = new Set<string>()
  let stall: {ms: number; at: number} | undefined
  let apiCount = 0

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now()
    const method = req.method ?? 'GET'
    const {pathname} = new URL(req.url ?? '/', 'http://fake')
    let endpoint: string | undefined
    const idemKey = req.headers['idempotency-key'] as string | undefined
    const record = (status: number) =>
      requests.push({method, url: req.url ?? '', endpoint, status, at, ...(idemKey === undefined ? {} : {idempotencyKey: idemKey})})
    const send = (status: number, body?: unknown) => {
      record(status)
      if (body === undefined) res.writeHead(status).end()
      else res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
    }
    if (pathname.startsWith('/health')) return send(200, {status: 'ok'})
    const m = ROUTE.exec(pathname)
    if (!m) return send(404, {error: 'NOT_FOUND', message: `no route ${method} ${pathname}`})
    const kind = m[1] as Kind
    const {key, param, noun} = KINDS[kind]
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2])
    endpoint = `${method} /api/v1/${kind}/${id === undefined ? '' : param}`

    if (stall && ++apiCount > stall.at) {
      const start = performance.now()
      const until = start + stall.ms
      stall = undefined
      while (performance.now() < until) {
        // deliberately busy: the server's event loop is stuck
      }
      stalls.push({start, end: performance.now()})
    }
    const given = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /i, '')
    if (given !== apiKey) return send(401, {error: 'UNAUTHORIZED', message: 'missing or unknown API key'})
    const chosen = behaviours.get(endpoint) ?? behaviours.get('*') ?? {}
    const b = chosen.firstOnly && idemKey !== undefined && seenKeys.has(idemKey) ? {} : chosen
    if (idemKey !== undefined) seenKeys.add(idemKey)
    if (b.delayMs) await sleepAtLeast(b.delayMs)
    if (b.drop) {
      record(0)
      return void req.socket.destroy()
    }
    if (b.status) return send(b.status, {error: CODES[b.status] ?? 'ERROR', message: `boom for ${noun} ${id ?? randomUUID()}`})

    let body: Record<string, unknown> = {}
    try {
      body = ((await readJson(req)) ?? {}) as Record<string, unknown>
    } catch {
      return send(400, {error: 'VALIDATION_FAILED', message: 'malformed JSON'})
    }
    const items = store[kind]
    const now = new Date().toISOString()
    if (id === undefined) {
      if (method === 'POST') {
        const row = {...body, [key]: randomUUID(), status: 'pending', created_at: now, updated_at: now}
        items.set(row[key] as string, row)
        issued.add(row[key] as string)
        return send(201, row)
      }
      if (method === 'GET') {
        const all = [...items.values()].reverse()
        return send(200, {items: all.slice(0, 100), total: all.length, limit: 100, offset: 0})
      }
      return send(405, {error: 'METHOD_NOT_ALLOWED', message: `${method} ${pathname}`})
    }
    const row = items.get(id)
    if (!row) return send(404, {error: 'NOT_FOUND', message: `${noun} ${id} not found`})
    if (method === 'GET') return send(200, row)
    if (method === 'PATCH') {
      Object.assign(row, body, {updated_at: now})
      return send(200, row)
    }
    if (method === 'DELETE') {
      items.delete(id)
      return send(204)
    }
    return send(405, {error: 'METHOD_NOT_ALLOWED', message: `${method} ${pathname}`})
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent)
        res.writeHead(500, {'content-type': 'application/json'}).end(JSON.stringify({error: 'INTERNAL', message: err.message}))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    issued,
    stalls,
    set: (endpoint, behaviour) => void behaviours.set(endpoint, {...behaviours.get(endpoint), ...behaviour}),
    reset: () => behaviours.clear(),
    stall: (ms, after = 0) => {
      apiCount = 0
      stall = {ms, at: after}
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
