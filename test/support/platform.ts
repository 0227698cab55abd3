/** Real L01 and L09 servers on loopback sockets for the gateway tests. */
import {createServer, type Server} from 'node:net'
import type {FastifyInstance} from 'fastify'
import type {ServerLimits} from '../../src/core/index.js'
import {buildDataLayer} from '../../src/data-layer/index.js'
import type {Db} from '../../src/db/index.js'
import {buildGateway, L01Client} from '../../src/gateway/index.js'

export const INTERNAL_KEY = 'test-internal-key-0123456789abcdef'
export const API_KEY = 'test-api-key-0123456789abcdef012345'

export interface L01Handle {
  app: FastifyInstance
  url: string
  port: number
  /** Request ids and URLs L01 received, in order. */
  seen: Array<{id: string; url: string}>
}

/** L01 on db, listening on 127.0.0.1 (port 0 = any free one). */
export async function listenL01(db: Db, port = 0, limits?: ServerLimits): Promise<L01Handle> {
  const app = buildDataLayer({db, apiKeys: [INTERNAL_KEY], version: 'test', limits})
  const seen: L01Handle['seen'] = []
  app.addHook('onRequest', async (req) => void seen.push({id: req.id, url: req.url}))
  await app.listen({host: '127.0.0.1', port})
  const addr = app.server.address()
  const p = typeof addr === 'object' && addr ? addr.port : port
  return {app, url: `http://127.0.0.1:${p}`, port: p, seen}
}

export function gatewayFor(
  l01Url: string,
  timeoutMs = 5000,
  apiKey = INTERNAL_KEY,
  limits?: ServerLimits,
): {app: FastifyInstance; client: L01Client} {
  const client = new L01Client({baseUrl: l01Url, apiKey, timeoutMs})
  return {client, app: buildGateway({l01: client, apiKeys: [API_KEY], version: 'test', limits})}
}

/** A TCP server that accepts connections and never answers: an L01 that hangs. */
export async function silentServer(): Promise<{url: string; close: () => Promise<void>}> {
  const sockets = new Set<import('node:net').Socket>()
  const srv: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const addr = srv.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        srv.close(() => r())
      }),
  }
}
