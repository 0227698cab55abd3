import type {FastifyInstance, FastifyReply, FastifyServerOptions} from 'fastify'
import type {ServerLimits} from '../core/index.js'
import {authPlugin, createServer} from '../server/index.js'
import type {Db} from '../db/index.js'
import {createMetrics, type MetricsRegistry} from '../observability/index.js'
import {REPLAY_HEADER, idempotencyKey} from './idempotency.js'
import {RESOURCES, createStore, operations, routesOf, schemasOf, type ListParams, type Resource, type Store} from './resources.js'

export interface DataLayerDeps {
  db: Db
  /** The internal key(s) L09 must send; empty disables auth (never in a served process). */
  apiKeys: readonly string[]
  version: string
  logger?: FastifyServerOptions['logger']
  /** Timeouts and connection bounds (platform.yaml server:); the defaults when not given. */
  limits?: ServerLimits
  /** The clock that ages the kept list estimates (Date.now when not given). */
  now?: () => number
  /** The store to serve from, and the metrics to count in, when another way in (an in-process L01 client) shares them. */
  store?: Store
  metrics?: MetricsRegistry
}

type Params = Record<string, string>

/** Rows come from PostgreSQL as JSON text already: sent as they are. */
const sendJson = (reply: FastifyReply, json: string, status = 200) => reply.code(status).type('application/json').send(json)

/** A resource's routes: Fastify validates each part against the resource's schemas, then the operation runs. */
function mount(app: FastifyInstance, store: Store, r: Resource): void {
  const ops = operations(store, r)
  const k = r.entity.spec.key
  const schemas = schemasOf(r)
  const params = schemas.params
  const {collection, item} = routesOf(r)

  app.post(collection, {schema: {body: schemas.create}}, async (req, reply) => {
    const {json, replay} = await ops.create(req.body as Record<string, unknown>, idempotencyKey(req.headers))
    if (replay) reply.header(REPLAY_HEADER, 'true')
    return sendJson(reply, json, 201)
  })
  if (r.list) {
    app.get(collection, {schema: {querystring: schemas.query}}, async (req, reply) =>
      sendJson(reply, await ops.list(req.query as ListParams)),
    )
  }
  app.get<{Params: Params}>(item, {schema: {params}}, async (req, reply) => sendJson(reply, await ops.get(req.params[k]!)))
  app.patch<{Params: Params}>(item, {schema: {params, body: schemas.patch}}, async (req, reply) =>
    sendJson(reply, await ops.patch(req.params[k]!, req.body as Record<string, unknown>)),
  )
  if (r.remove) {
    app.delete<{Params: Params}>(item, {schema: {params}}, async (req, reply) => {
      await ops.remove(req.params[k]!)
      return reply.code(204).send()
    })
  }
}

/** L01: the data layer over agents, goals, plans and tasks. Returned not listening. */
export function buildDataLayer(deps: DataLayerDeps): FastifyInstance {
  const app = createServer({
    service: 'l01-data-layer',
    version: deps.version,
    logger: deps.logger,
    limits: deps.limits,
    metrics: deps.metrics ?? createMetrics(),
    ready: {
      dependency: 'database',
      check: async () => {
        await deps.db.query('SELECT 1')
      },
    },
  })
  // The data routes and the key check in one scope: health and metrics stay outside it, open.
  const store = deps.store ?? createStore(deps.db, deps.now)
  app.register(async (data) => {
    await data.register(authPlugin, {keys: deps.apiKeys})
    for (const r of RESOURCES) mount(data, store, r)
  })
  return app
}
