import {PlatformError} from '../core/index.js'
import type {Db} from '../db/index.js'
import {agents, goals, idParam, listQuery, plans, tasks, uuidParam, type Entity} from './entities.js'
import {Estimates, deleteRow, getRow, insertRow, listBody, listRows, updateRow} from './table.js'
import {IdempotentCreates, bodyHash, type Created} from './idempotency.js'

/** What every operation works with: the database, the idempotency records and the kept list estimates. */
export interface Store {
  db: Db
  creates: IdempotentCreates
  estimates: Estimates
}

/** The clock ages the kept list estimates (Date.now when not given). */
export const createStore = (db: Db, now?: () => number): Store => ({
  db,
  creates: new IdempotentCreates(db),
  estimates: new Estimates({now}),
})

type Body = Record<string, unknown>
export type ListParams = {limit: number; offset: number; count?: 'exact'} & Record<string, unknown>

/** One of L01's collections: where it is served, its entity, and which operations it has. */
export interface Resource {
  prefix: string
  entity: Entity
  keyParam: object
  list: boolean
  remove: boolean
  what: string
}

export const RESOURCES: Resource[] = [
  {prefix: '/agents', entity: agents, keyParam: uuidParam, list: true, remove: true, what: 'agent'},
  {prefix: '/goals', entity: goals, keyParam: idParam, list: true, remove: false, what: 'goal'},
  // /plans/tasks is registered first: a static segment wins over /plans/:key.
  {prefix: '/plans/tasks', entity: tasks, keyParam: idParam, list: true, remove: false, what: 'task'},
  {prefix: '/plans', entity: plans, keyParam: idParam, list: true, remove: false, what: 'plan'},
]

export const resourceAt = (prefix: string): Resource => RESOURCES.find((r) => r.prefix === prefix)!

/** A resource's route templates, as L01 serves them and as its metrics and log lines name them. */
export const routesOf = (r: Resource) => ({collection: `${r.prefix}/`, item: `${r.prefix}/:${r.entity.spec.key}`})

/** The JSON schemas of a resource's request parts: the path key (named after the key column), bodies and list query. */
export function schemasOf(r: Resource) {
  const k = r.entity.spec.key
  return {
    params: {type: 'object', properties: {[k]: r.keyParam}, required: [k]},
    create: r.entity.createSchema,
    patch: r.entity.patchSchema,
    query: listQuery(r.entity.filters),
  }
}

const notFound = (what: string, key: string) => new PlatformError('NOT_FOUND', `no ${what} with id ${key}`)

/**
 * A resource's operations on input its schemas have already accepted, each answering JSON
 * text as PostgreSQL rendered it. L01's routes call them, and so does L09 when it runs in
 * L01's own event loop (see in-process.ts): one implementation, whatever the way in.
 */
export function operations({db, creates, estimates}: Store, r: Resource) {
  const {entity, what} = r
  const spec = entity.spec
  const updatable = Object.keys((entity.patchSchema as {properties: object}).properties)
  return {
    async create(body: Body, key: string | undefined): Promise<Created> {
      const values = entity.toInsert(body)
      if (key === undefined) return {json: await insertRow(db, spec, values), replay: false}
      // Only a create that succeeded is recorded, so a replay is always its 201.
      return creates.create(spec, r.prefix, key, bodyHash(body), values)
    },
    async list(q: ListParams): Promise<string> {
      const {limit, offset, count, ...rest} = q
      const filters = Object.fromEntries(Object.keys(entity.filters).map((f) => [f, rest[f]]))
      const page = await listRows(db, spec, {filters, limit, offset, exactCount: count === 'exact', estimates})
      return listBody(page, limit, offset)
    },
    async get(key: string): Promise<string> {
      const row = await getRow(db, spec, key)
      if (row === undefined) throw notFound(what, key)
      return row
    },
    async patch(key: string, body: Body): Promise<string> {
      const values = entity.toUpdate(body)
      if (Object.keys(values).length === 0) {
        throw new PlatformError('VALIDATION_FAILED', `the body names no field to update; expected any of: ${updatable.join(', ')}`, {
          details: [{field: 'body', message: 'names no updatable field', allowed: updatable}],
        })
      }
      const row = await updateRow(db, spec, key, values)
      if (row === undefined) throw notFound(what, key)
      return row
    },
    async remove(key: string): Promise<void> {
      if (!(await deleteRow(db, spec, key))) throw notFound(what, key)
    },
  }
}

export type Operations = ReturnType<typeof operations>
