/**
 * Server limits against real sockets on both services (L01 on PGlite in memory, L09 in front
 * of it), with short configured timeouts. Times are checked only against generous bounds.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Socket} from 'node:net'
import type {FastifyInstance} from 'fastify'
import {DEFAULT_SERVER_LIMITS, type ServerLimits} from '../../src/core/index.js'
import type {Db} from '../../src/db/index.js'
import type {L01Client} from '../../src/gateway/index.js'
import {migratedDb} from '../support/dbs.js'
import {API_KEY, INTERNAL_KEY, gatewayFor, listenL01, type L01Handle} from '../support/platform.js'
import {exchange, openSocket, parseResponses} from '../support/raw-http.js'
import {waitFor} from '../support/wait.js'

const LIMITS: ServerLimits = {...DEFAULT_SERVER_LIMITS, headersTimeoutMs: 400, requestTimeoutMs: 1000, maxPipelinedRequests: 4}
const GET_LIVE = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'

interface Pair {
  l01: L01Handle
  gw: FastifyInstance
  client: L01Client
  ports: {l01: number; l09: number}
}

async function listenPair(db: Db, limits: ServerLimits): Promise<Pair> {
  const l01 = await listenL01(db, 0, limits)
  const {app: gw, client} = gatewayFor(l01.url, 5000, INTERNAL_KEY, limits)
  await gw.listen({host: '127.0.0.1', port: 0})
  return {l01, gw, client, ports: {l01: l01.port, l09: (gw.server.address() as {port: number}).port}}
}

async function closePair(p: Pair): Promise<void> {
  await p.gw.close()
  await p.client.close()
  await p.l01.app.close()
}

/** A socket that sends a request head one header line every 100 ms and never finishes it (or sends nothing, with no line). */
function slowloris(socket: Socket, line = 'X-Slow: 1\r\n'): {received: () => string; closedAfterMs: () => number | undefined} {
  const opened = Date.now()
  let closedAt: number | undefined
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  socket.on('close', () => {
    closedAt = Date.now()
    clearInterval(drip)
  })
  if (line) socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n')
  const drip = setInterval(() => line && socket.writable && socket.write(line), 100)
  return {
    received: () => Buffer.concat(chunks).toString('latin1'),
    closedAfterMs: () => (closedAt === undefined ? undefined : closedAt - opened),
  }
}

describe('server limits on both services', () => {
  let db: Db
  let pair: Pair

  beforeAll(async () => {
    db = await migratedDb('pglite')
    pair = await listenPair(db, LIMITS)
  })
  afterAll(async () => {
    await closePair(pair)
    await db.close()
  })

  for (const service of ['l01', 'l09'] as const) {
    it(`${service}: closes slowloris sockets with 408 REQUEST_TIMEOUT at the headers timeout and keeps answering others`, async () => {
      const port = pair.ports[service]
      const attackers = await Promise.all(Array.from({length: 20}, async () => slowloris(await openSocket(port))))
      // A socket that connects and sends nothing is cut off by the same timeout.
      const silent = slowloris(await openSocket(port), '')
      await new Promise((r) => setTimeout(r, 150))
      const started = Date.now()
      const res = await fetch(`http://127.0.0.1:${port}/health/live`)
      expect(res.status).toBe(200)
      expect(Date.now() - started).toBeLessThan(2000)
      const everyone = [...attackers, silent]
      const open = () => everyone.filter((a) => a.closedAfterMs() === undefined).length
      const detail = async () => `${open()} still open`
      await waitFor('every slowloris socket to be closed', async () => open() === 0, {ms: 15_000, every: 50, detail})
      for (const a of everyone) {
        const [r] = parseResponses(a.received())
        expect(r?.status).toBe(408)
        expect(JSON.parse(r!.body)).toMatchObject({error: 'REQUEST_TIMEOUT'})
        expect(r!.headers['x-request-id']).toBeTruthy()
        // Node's default would keep them 60 s or more; a tenth of that is a generous bound for 400 ms.
        expect(a.closedAfterMs()).toBeLessThan(6000)
      }
    })

    it(`${service}: refuses requests pipelined beyond the bound (20,000 sent unread) and closes the connection`, async () => {
      const {responses, closed} = await exchange(pair.ports[service], [GET_LIVE.repeat(20_000)])
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 400])
      const refusal = responses.at(-1)!
      expect(refusal.headers.connection).toBe('close')
      expect(JSON.parse(refusal.body)).toMatchObject({error: 'BAD_REQUEST', message: expect.stringContaining('more than 4 requests')})
      expect(closed).toBe('end')
      expect((await fetch(`http://127.0.0.1:${pair.ports[service]}/health/live`)).status).toBe(200)
    })

    it(`${service}: answers 413 to 200 POSTs of 2 MiB, each read by the client, with no reset`, async () => {
      // The body goes in 64 KiB writes a tick apart, so the server answers while the client is still sending.
      const body = Array.from({length: 32}, () => Buffer.alloc(64 * 1024, 'a'))
      const path = service === 'l09' ? '/api/v1/agents/' : '/agents/'
      const key = service === 'l09' ? API_KEY : INTERNAL_KEY
      const lines = [`POST ${path} HTTP/1.1`, 'Host: x', `X-API-Key: ${key}`, 'Content-Type: application/json']
      lines.push(`Content-Length: ${32 * 64 * 1024}`)
      const head = `${lines.join('\r\n')}\r\n\r\n`
      const outcomes: Array<{status?: number; closed: string; connection?: string}> = []
      const worker = async () => {
        while (outcomes.length < 200) {
          const slot = outcomes.push({closed: 'pending'}) - 1
          const x = await exchange(pair.ports[service], [head, ...body])
          outcomes[slot] = {status: x.responses[0]?.status, closed: x.error ?? x.closed, connection: x.responses[0]?.headers.connection}
        }
      }
      await Promise.all(Array.from({length: 8}, worker))
      expect(outcomes).toHaveLength(200)
      expect(outcomes.filter((o) => o.status !== 413 || o.closed !== 'end' || o.connection !== 'close')).toEqual([])
    })
  }
})

describe('the connection cap', () => {
  let db: Db
  let pair: Pair

  beforeAll(async () => {
    db = await migratedDb('pglite')
    pair = await listenPair(db, {...LIMITS, maxConnections: 3})
  })
  afterAll(async () => {
    await closePair(pair)
    await db.close()
  })

  it.each(['l01', 'l09'] as const)('%s closes connections beyond the cap at once and serves again when one is freed', async (service) => {
    const port = pair.ports[service]
    const held = await Promise.all([0, 1, 2].map(() => openSocket(port)))
    const extra = await exchange(port, [GET_LIVE], 5000)
    expect(extra.responses).toEqual([])
    expect(extra.closed).not.toBe('open')
    for (const s of held) s.destroy()
    const again = await waitFor('a request once the held connections are gone', async () => {
      const x = await exchange(port, [GET_LIVE.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')], 2000)
      return x.responses[0]?.status === 200 && x
    })
    expect(again.responses[0]!.status).toBe(200)
  })
})
