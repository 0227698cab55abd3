/**
 * Requests Node's HTTP layer refuses before any route sees them, sent byte by byte over real
 * sockets to both services: L01 on PGlite in memory, L09 in front of that L01.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {FastifyInstance} from 'fastify'
import type {Db} from '../../src/db/index.js'
import type {L01Client} from '../../src/gateway/index.js'
import {migratedDb} from '../support/dbs.js'
import {gatewayFor, listenL01, type L01Handle} from '../support/platform.js'
import {exchange} from '../support/raw-http.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`
const ID = 'x-request-id: refusal-trace-1'

/** A POST /agents/ head carrying the request id, with extra header lines. */
const post = (...lines: string[]) => head(['POST /agents/ HTTP/1.1', 'Host: x', ID, 'Content-Type: application/json', ...lines])
const get = (...lines: string[]) => head(['GET /health HTTP/1.1', 'Host: x', ID, ...lines])
const bad = {status: 400, code: 'BAD_REQUEST'}
const tooLarge = {status: 431, code: 'HEADERS_TOO_LARGE'}

/** name, bytes sent, status, code; `echo` when the request id header comes before the fault and is read. */
const CASES: Array<{name: string; bytes: string; status: number; code: string; echo: boolean}> = [
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `${post('Content-Length: 5', 'Transfer-Encoding: chunked')}0\r\n\r\n`,
    ...bad,
    echo: true,
  },
  {name: 'a bad chunk size', bytes: `${post('Transfer-Encoding: chunked')}zz\r\n{}\r\n0\r\n\r\n`, ...bad, echo: true},
  {name: 'two different Content-Lengths', bytes: `${post('Content-Length: 2', 'Content-Length: 3')}{}`, ...bad, echo: true},
  {name: 'method FOO', bytes: head(['FOO /health HTTP/1.1', 'Host: x', ID]), ...bad, echo: true},
  {name: 'a bare LF in a header', bytes: `GET /health HTTP/1.1\r\nHost: x\r\n${ID}\r\nX-A: b\nX-B: c\r\n\r\n`, ...bad, echo: true},
  {name: 'headers over 16 KB', bytes: get(`X-Big: ${'a'.repeat(17 * 1024)}`), ...tooLarge, echo: true},
  {name: '10,000 headers', bytes: get(...Array.from({length: 10_000}, (_, i) => `X-H${i}: v`)), ...tooLarge, echo: true},
  {name: 'a URL of 100 KB', bytes: head([`GET /${'a'.repeat(100 * 1024)} HTTP/1.1`, 'Host: x', ID]), ...tooLarge, echo: false},
  {name: 'a missing Host header', bytes: head(['GET /health/live HTTP/1.1', ID]), ...bad, echo: true},
]

describe("refusals below the routes, in the contract's shape, on both services", () => {
  let db: Db
  let l01: L01Handle
  let gw: FastifyInstance
  let client: L01Client
  const ports: Record<string, number> = {}

  beforeAll(async () => {
    db = await migratedDb('pglite')
    l01 = await listenL01(db)
    ;({app: gw, client} = gatewayFor(l01.url))
    await gw.listen({host: '127.0.0.1', port: 0})
    ports.l01 = l01.port
    ports.l09 = (gw.server.address() as {port: number}).port
  })
  afterAll(async () => {
    await gw.close()
    await client.close()
    await l01.app.close()
    await db.close()
  })

  for (const service of ['l01', 'l09'] as const) {
    it.each(CASES)(`${service}: $name is $status $code with a request id and connection: close`, async ({bytes, status, code, echo}) => {
      const path = service === 'l09' ? bytes.replace(/^(\w+) \/(agents|health)/, '$1 /api/v1/$2') : bytes
      const {responses, closed} = await exchange(ports[service]!, [path])
      expect(responses).toHaveLength(1)
      const [r] = responses
      expect(r!.status).toBe(status)
      expect(r!.headers['content-type']).toMatch(/^application\/json/)
      expect(r!.headers.connection).toBe('close')
      expect(r!.headers['x-request-id']).toMatch(echo ? /^refusal-trace-1$/ : UUID)
      const body = JSON.parse(r!.body)
      expect(body).toEqual({error: code, message: expect.any(String)})
      expect(body.message).not.toMatch(/Client Error|at .*\.js/)
      expect(closed).toBe('end')
    })
  }

  it('gives a new request id when the refused request named none', async () => {
    const {responses} = await exchange(ports.l01!, ['FOO / HTTP/1.1\r\nHost: x\r\n\r\n'])
    expect(responses[0]!.headers['x-request-id']).toMatch(UUID)
  })

  it('still answers a well-formed request on the same server afterwards', async () => {
    const {responses} = await exchange(ports.l09!, [head(['GET /health/live HTTP/1.1', 'Host: x', 'Connection: close'])])
    expect(responses[0]!.status).toBe(200)
    expect(responses[0]!.headers['x-request-id']).toMatch(UUID)
  })
})
