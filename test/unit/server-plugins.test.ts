/** Each of the servers' plugins on a bare Fastify instance of its own, through inject(). */
import Fastify, {type FastifyInstance} from 'fastify'
import {afterEach, describe, expect, it} from 'vitest'
import {DEFAULT_SERVER_LIMITS, PlatformError} from '../../src/core/index.js'
import {createMetrics, metricsPlugin} from '../../src/observability/index.js'
import {authPlugin, errorsPlugin, healthPlugin, limitsPlugin, notFound} from '../../src/server/index.js'

let app: FastifyInstance
afterEach(async () => app?.close())

describe('errorsPlugin', () => {
  const build = async () => {
    app = Fastify()
    await app.register(errorsPlugin)
    const taken = new PlatformError('CONFLICT', 'taken', {details: [{field: 'goal_id', message: 'exists'}]})
    app.get('/conflict', async () => Promise.reject(taken))
    app.get('/bug', async () => Promise.reject(new Error('SELECT secret FROM t at file.js:1')))
    app.post('/typed', {schema: {body: {type: 'object', properties: {n: {type: 'integer'}}, required: ['n']}}}, async () => ({ok: true}))
    return app
  }

  it('answers a catalogue error with its status and {error, message, details}', async () => {
    const r = await (await build()).inject({url: '/conflict'})
    expect(r.statusCode).toBe(409)
    expect(r.json()).toEqual({error: 'CONFLICT', message: 'taken', details: [{field: 'goal_id', message: 'exists'}]})
  })

  it('answers anything else as a 500 INTERNAL that tells nothing of the cause', async () => {
    const r = await (await build()).inject({url: '/bug'})
    expect(r.statusCode).toBe(500)
    expect(r.json()).toEqual({error: 'INTERNAL', message: 'internal error'})
  })

  it('names the field of a schema failure and answers unknown routes as NOT_FOUND', async () => {
    const a = await build()
    const bad = await a.inject({method: 'POST', url: '/typed', payload: {}})
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({error: 'VALIDATION_FAILED', details: [{field: 'n', message: 'is required'}]})
    const missing = await a.inject({url: '/nowhere?x=1'})
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({error: 'NOT_FOUND', message: 'no route GET /nowhere'})
  })
})

describe('authPlugin', () => {
  const KEY = 'plugin-test-key'
  const build = async (keys: string[]) => {
    app = Fastify()
    await app.register(errorsPlugin)
    app.get('/open', async () => ({open: true}))
    await app.register(
      async (scope) => {
        await scope.register(authPlugin, {keys})
        scope.setNotFoundHandler(notFound)
        scope.get('/thing', async () => ({guarded: true}))
      },
      {prefix: '/guarded'},
    )
    return app
  }

  it('guards only the scope it is registered in', async () => {
    const a = await build([KEY])
    expect((await a.inject({url: '/open'})).statusCode).toBe(200)
    const refused = await a.inject({url: '/guarded/thing'})
    expect(refused.statusCode).toBe(401)
    expect(refused.json()).toMatchObject({error: 'UNAUTHORIZED', message: expect.stringContaining('X-API-Key')})
  })

  it('accepts the key as X-API-Key or Bearer and refuses a wrong one', async () => {
    const a = await build([KEY])
    expect((await a.inject({url: '/guarded/thing', headers: {'x-api-key': KEY}})).json()).toEqual({guarded: true})
    expect((await a.inject({url: '/guarded/thing', headers: {authorization: `Bearer ${KEY}`}})).statusCode).toBe(200)
    const wrong = await a.inject({url: '/guarded/thing', headers: {'x-api-key': `${KEY}x`}})
    expect(wrong.json()).toMatchObject({message: 'the API key is not valid'})
  })

  it('refuses a key in the query string even beside a valid header', async () => {
    const r = await (await build([KEY])).inject({url: `/guarded/thing?api_key=${KEY}`, headers: {'x-api-key': KEY}})
    expect(r.statusCode).toBe(401)
    expect(r.json()).toMatchObject({details: [{field: 'query.api_key'}]})
  })

  it("guards the scope's unknown routes too, so they cannot be told from known ones without a key", async () => {
    const a = await build([KEY])
    expect((await a.inject({url: '/guarded/unknown'})).statusCode).toBe(401)
    expect((await a.inject({url: '/guarded/unknown', headers: {'x-api-key': KEY}})).statusCode).toBe(404)
  })

  it('checks nothing when no key is configured', async () => {
    expect((await (await build([])).inject({url: '/guarded/thing'})).statusCode).toBe(200)
  })
})

describe('healthPlugin', () => {
  const build = async (check: () => Promise<void>) => {
    app = Fastify()
    await app.register(healthPlugin, {service: 'svc', version: '9.9.9', ready: {dependency: 'database', check}})
    return app
  }

  it('answers live, ready and the service name and version', async () => {
    const a = await build(async () => {})
    expect((await a.inject({url: '/health/live'})).json()).toEqual({status: 'ok'})
    expect((await a.inject({url: '/health'})).json()).toEqual({service: 'svc', version: '9.9.9', status: 'ok'})
    expect((await a.inject({url: '/health/ready'})).json()).toEqual({status: 'ready', dependencies: {database: 'ok'}})
  })

  it('answers 503 naming the failing dependency, with its own code when it has one', async () => {
    const refused = new PlatformError('DATABASE_UNAVAILABLE', 'connection refused')
    const down = await (await build(async () => Promise.reject(refused))).inject({url: '/health/ready'})
    expect(down.statusCode).toBe(503)
    expect(down.json()).toMatchObject({error: 'DATABASE_UNAVAILABLE', message: 'database is not ready: connection refused'})
    expect(down.json().details).toEqual([{field: 'database', message: 'connection refused'}])
    await app.close()
    const other = await (await build(async () => Promise.reject(new Error('boom')))).inject({url: '/health/ready'})
    expect(other.json()).toMatchObject({error: 'UPSTREAM_UNAVAILABLE'})
  })
})

describe('metricsPlugin', () => {
  it('counts responses under their route template and serves them at /metrics', async () => {
    app = Fastify()
    await app.register(metricsPlugin, {metrics: createMetrics()})
    app.get('/items/:id', async () => ({}))
    await app.inject({url: '/items/1234-secret-id'})
    const r = await app.inject({url: '/metrics'})
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toMatch(/^text\/plain/)
    expect(r.body).toMatch(/^http_requests_total\{method="GET",route="\/items\/:id",status="200"\} 1$/m)
    expect(r.body).toMatch(/^http_request_duration_seconds_count\{[^}]*route="\/items\/:id"[^}]*\} 1$/m)
    expect(r.body).not.toContain('1234-secret-id')
  })
})

describe('limitsPlugin', () => {
  // Pipelining, timeouts and lingering act on real sockets: test/db/server-limits.test.ts.
  it('caps the connections of the server of the instance it is registered on', async () => {
    app = Fastify()
    await app.register(limitsPlugin, {limits: {...DEFAULT_SERVER_LIMITS, maxConnections: 7}})
    await app.ready()
    expect(app.server.maxConnections).toBe(7)
  })
})
