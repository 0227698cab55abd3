/** Secrets in query strings, against both services, with their log lines captured from a real pino destination stream. */
import {Writable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {FastifyInstance} from 'fastify'
import {buildDataLayer} from '../../src/data-layer/index.js'
import type {Db} from '../../src/db/index.js'
import {buildGateway, L01Client} from '../../src/gateway/index.js'
import {migratedDb} from '../support/dbs.js'
import {API_KEY, INTERNAL_KEY, listenL01, type L01Handle} from '../support/platform.js'

const SECRET = 'leaked-0123456789abcdef0123456789'

function logSink(): {stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string} {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  const text = () => chunks.join('')
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

describe('keys in the query string', () => {
  let db: Db
  let l01: L01Handle
  let client: L01Client
  const l01Log = logSink()
  const l09Log = logSink()
  let dl: FastifyInstance
  let gw: FastifyInstance

  beforeAll(async () => {
    db = await migratedDb('pglite')
    l01 = await listenL01(db)
    client = new L01Client({baseUrl: l01.url, apiKey: INTERNAL_KEY, timeoutMs: 5000})
    dl = buildDataLayer({db, apiKeys: [INTERNAL_KEY], version: 'test', logger: {level: 'info', stream: l01Log.stream}})
    gw = buildGateway({l01: client, apiKeys: [API_KEY], version: 'test', logger: {level: 'info', stream: l09Log.stream}})
  })
  afterAll(async () => {
    await gw.close()
    await dl.close()
    await client.close()
    await l01.app.close()
    await db.close()
  })

  const names = ['api_key', 'apikey', 'key', 'token', 'access_token']
  it.each(names)('L09 refuses ?%s= on /api/v1 with 401 saying to use the X-API-Key header', async (name) => {
    const r = await gw.inject({url: `/api/v1/agents/?limit=1&${name}=${SECRET}`, headers: {'x-api-key': API_KEY}})
    expect(r.statusCode).toBe(401)
    expect(r.json()).toMatchObject({error: 'UNAUTHORIZED', message: expect.stringContaining('X-API-Key header')})
    expect(r.body).not.toContain(SECRET)
    expect(l01.seen.some((s) => s.url.includes(SECRET))).toBe(false)
  })

  it("writes no secret to either service's log, on refused, open and unknown routes alike", async () => {
    await gw.inject({url: `/api/v1/agents/?api_key=${SECRET}`})
    await gw.inject({url: `/health?token=${SECRET}&verbose=1`})
    await gw.inject({url: `/nowhere?password=${SECRET}`})
    await dl.inject({url: `/agents/?secret=${SECRET}`, headers: {'x-api-key': INTERNAL_KEY}})
    await dl.inject({url: `/health/live?access_token=${SECRET}`})
    for (const log of [l09Log, l01Log]) {
      expect(log.lines().filter((l) => l.msg === 'request').length).toBeGreaterThan(0)
      expect(log.text()).not.toContain(SECRET)
    }
    const urls = [...l09Log.lines(), ...l01Log.lines()].map((l) => l.url).filter(Boolean)
    const redacted = ['/health?token=[REDACTED]&verbose=1', '/health/live?access_token=[REDACTED]', '/api/v1/agents/?api_key=[REDACTED]']
    expect(urls).toEqual(expect.arrayContaining(redacted))
  })

  it('L01 refuses a key in its query string too, and still serves the same request with the key in the header', async () => {
    const refused = await dl.inject({url: `/agents/?key=${SECRET}`, headers: {'x-api-key': INTERNAL_KEY}})
    expect(refused.statusCode).toBe(401)
    const ok = await dl.inject({url: '/agents/?limit=1', headers: {'x-api-key': INTERNAL_KEY}})
    expect(ok.statusCode).toBe(200)
  })
})
