import type {FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions} from 'fastify'
import type {ServerLimits} from '../core/index.js'
import {authPlugin, createServer, notFound} from '../server/index.js'
import {createMetrics} from '../observability/index.js'
import type {L01, UpstreamResponse, CallOptions} from './l01-client.js'

export interface GatewayDeps {
  l01: L01
  /** Keys clients may present (PLATFORM_API_KEYS). */
  apiKeys: readonly string[]
  version: string
  logger?: FastifyServerOptions['logger']
  /** Timeouts and connection bounds (platform.yaml server:); the defaults when not given. */
  limits?: ServerLimits
}

type Req = FastifyRequest<{Params: Record<string, string>; Querystring: Record<string, string>}>

type Call = (l01: L01, req: Req, o: CallOptions) => Promise<UpstreamResponse>

/** L01's answer as L09's: status and body unchanged, 4xx included. */
function relay(reply: FastifyReply, res: UpstreamResponse): FastifyReply {
  reply.code(res.status)
  if (res.replayed) reply.header('idempotent-replay', 'true')
  return res.text ? reply.type('application/json').send(res.text) : reply.send()
}

/**
 * What L01 is told of the caller's request: its id, the Idempotency-Key that makes a create
 * safe to retry, and the body's text as the client sent it (parsed and checked by the shared
 * server), so that it is forwarded without being serialised again.
 */
const forwarded = (req: FastifyRequest): CallOptions => ({
  requestId: req.id,
  idempotencyKey: req.headers['idempotency-key'] as string | undefined,
  bodyText: req.rawJson,
})

const q = (req: Req, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, req.query[k]]))
const page = ['limit', 'offset', 'count']

/** Every /api/v1 route and the L01 call behind it. */
const ROUTES: Array<[method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, call: Call]> = [
  ['POST', '/agents/', (l, r, o) => l.createAgent(r.body, o)],
  ['GET', '/agents/', (l, r, o) => l.listAgents(q(r, 'status', ...page), o)],
  ['GET', '/agents/:id', (l, r, o) => l.getAgent(r.params.id!, o)],
  ['PATCH', '/agents/:id', (l, r, o) => l.patchAgent(r.params.id!, r.body, o)],
  ['DELETE', '/agents/:id', (l, r, o) => l.deleteAgent(r.params.id!, o)],
  ['POST', '/goals/', (l, r, o) => l.createGoal(r.body, o)],
  ['GET', '/goals/', (l, r, o) => l.listGoals(q(r, 'agent_id', 'status', ...page), o)],
  ['GET', '/goals/:goal_id', (l, r, o) => l.getGoal(r.params.goal_id!, o)],
  ['PATCH', '/goals/:goal_id', (l, r, o) => l.patchGoal(r.params.goal_id!, r.body, o)],
  ['POST', '/tasks/', (l, r, o) => l.createTask(r.body, o)],
  ['GET', '/tasks/', (l, r, o) => l.listTasks(q(r, 'plan_id', 'agent_id', 'status', ...page), o)],
  ['GET', '/tasks/:task_id', (l, r, o) => l.getTask(r.params.task_id!, o)],
  ['PATCH', '/tasks/:task_id', (l, r, o) => l.patchTask(r.params.task_id!, r.body, o)],
]

/**
 * L09: the API gateway. Authenticates callers, then relays each /api/v1 route to L01.
 * Bodies are parsed, size-limited and NUL-checked here (the shared server); field
 * validation is L01's, relayed unchanged, so both answer bad input alike.
 */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const app = createServer({
    service: 'l09-api-gateway',
    version: deps.version,
    logger: deps.logger,
    limits: deps.limits,
    metrics: createMetrics(),
    ready: {
      dependency: 'l01',
      check: async () => {
        const res = await deps.l01.ready()
        if (res.status !== 200) throw new Error(`L01 /health/ready answered ${res.status}`)
      },
    },
  })
  app.register(
    async (api) => {
      await api.register(authPlugin, {keys: deps.apiKeys})
      // An unknown /api/v1 route needs a key too, so routes cannot be enumerated without one.
      api.setNotFoundHandler(notFound)
      for (const [method, path, call] of ROUTES) {
        api.route({method, url: path, handler: async (req, reply) => relay(reply, await call(deps.l01, req as Req, forwarded(req)))})
      }
    },
    {prefix: '/api/v1'},
  )
  return app
}
