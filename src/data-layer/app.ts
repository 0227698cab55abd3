import type {FastifyInstance, FastifyReply, FastifyServerOptions} from 'fastify'
import {PlatformError, type ServerLimits} from '../core/index.js'
import {authPlugin, createServer} from '../server/index.js'
import type {Db} from '../db/index.js'
import {createMetrics} from '../observability/index.js'
import {agents, goals, idParam, listQuery, plans, tasks, uuidParam, type Entity} from './entities.js'
import {Estimates, deleteRow, getRow, insertRow, listBody, listRows, updateRow} from './table.js'
import {IdempotentCreates, REPLAY_HEADER, bodyHash, idempotencyKey} from './idempotency.js'

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
}

/** What every route works with: the database, the idempotency records and the kept list estimates. */
interface Store {
  db: Db
  creates: IdempotentCreates
  estimates: Estimates
}

type Params = Record<string, string>
type ListParams = {limit: number; offset: number; count?: 'exact'} & Record<string, unknown>

interface Mount {
  prefix: string
  entity: Entity
  keyParam: object
  list: boolean
  remove: boolean
  what: string
}

const MOUNTS: Mount[] = [
  {prefix: '/agents', entity: agents, keyParam: uuidParam, list: true, remove: true, what: 'agent'},
  {prefix: '/goals', entity: goals, keyParam: idParam, list: true, remove: false, what: 'goal'},
  // /plans/tasks is registered first: a static segment wins over /plans/:key.
  {prefix: '/plans/tasks', entity: tasks, keyParam: idParam, list: true, remove: false, what: 'task'},
  {prefix: '/plans', entity: plans, keyParam: idParam, list: true, remove: false, what: 'plan'},
]

const notFound = (what: string, key: string) => new PlatformError('NOT_FOUND', `no ${what} with id ${key}`)

/** Rows come from PostgreSQL as JSON text already: sent as they are. */
const sendJson = (reply: FastifyReply, json: string, status = 200) => reply.code(status).type('application/json').send(json)

function mount(app: FastifyInstance, {db, creates, estimates}: Store, m: Mount): void {
  const {entity, what} = m
  const spec = entity.spec
  // The path parameter carries the key column's name, so route templates read /agents/:id, /goals/:goal_id.
  const k = spec.key
  const params = {type: 'object', properties: {[k]: m.keyParam}, required: [k]}
  const updatable = Object.keys((entity.patchSchema as {properties: object}).properties)

  app.post(`${m.prefix}/`, {schema: {body: entity.createSchema}}, async (req, reply) => {
    const key = idempotencyKey(req.headers)
    const values = entity.toInsert(req.body as Record<string, unknown>)
    if (key === undefined) return sendJson(reply, await insertRow(db, spec, values), 201)
    // Only a create that succeeded is recorded, so a replay is always its 201.
    const {json, replay} = await creates.create(spec, m.prefix, key, bodyHash(req.body), values)
    if (replay) reply.header(REPLAY_HEADER, 'true')
    return sendJson(reply, json, 201)
  })
  if (m.list) {
    app.get(`${m.prefix}/`, {schema: {querystring: listQuery(entity.filters)}}, async (req, reply) => {
      const {limit, offset, count, ...rest} = req.query as ListParams
      const filters = Object.fromEntries(Object.keys(entity.filters).map((f) => [f, rest[f]]))
      const page = await listRows(db, spec, {filters, limit, offset, exactCount: count === 'exact', estimates})
      return sendJson(reply, listBody(page, limit, offset))
    })
  }
  app.get<{Params: Params}>(`${m.prefix}/:${k}`, {schema: {params}}, async (req, reply) => {
    const row = await getRow(db, spec, req.params[k]!)
    if (row === undefined) throw notFound(what, req.params[k]!)
    return sendJson(reply, row)
  })
  app.patch<{Params: Params}>(`${m.prefix}/:${k}`, {schema: {params, body: entity.patchSchema}}, async (req, reply) => {
    const values = entity.toUpdate(req.body as Record<string, unknown>)
    if (Object.keys(values).length === 0) {
      throw new PlatformError('VALIDATION_FAILED', `the body names no field to update; expected any of: ${updatable.join(', ')}`, {
        details: [{field: 'body', message: 'names no updatable field', allowed: updatable}],
      })
    }
    const row = await updateRow(db, spec, req.params[k]!, values)
    if (row === undefined) throw notFound(what, req.params[k]!)
    return sendJson(reply, row)
  })
  if (m.remove) {
    app.delete<{Params: Params}>(`${m.prefix}/:${k}`, {schema: {params}}, async (req, reply) => {
      if (!(await deleteRow(db, spec, req.params[k]!))) throw notFound(what, req.params[k]!)
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
    metrics: createMetrics(),
    ready: {
      dependency: 'database',
      check: async () => {
        await deps.db.query('SELECT 1')
      },
    },
  })
  // The data routes and the key check in one scope: health and metrics stay outside it, open.
  const store = {db: deps.db, creates: new IdempotentCreates(deps.db), estimates: new Estimates({now: deps.now})}
  app.register(async (data) => {
    await data.register(authPlugin, {keys: deps.apiKeys})
    for (const m of MOUNTS) mount(data, store, m)
  })
  return app
}
