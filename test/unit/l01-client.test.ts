/**
 * The L01Client's one retry, against a real HTTP server on loopback that stands in for an L01
 * replica going away: it drops the connection of chosen requests after reading them, as a
 * killed task does. The client must repeat only what cannot be done twice by doing so.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {L01Client} from '../../src/gateway/index.js'
import {isPlatformError} from '../../src/core/index.js'

/** Counts the requests that reached it, and drops the connection of the first `drop` of them. */
async function flakyL01(drop: number): Promise<{url: string; seen: string[]; close(): Promise<void>}> {
  const seen: string[] = []
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['idempotency-key'] ?? ''}`.trim())
    req.resume()
    if (seen.length <= drop) return void req.socket.destroy()
    res.writeHead(req.method === 'POST' ? 201 : 200, {'content-type': 'application/json'}).end('{"ok":true}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve()))}
}

describe('L01Client retries once, and only what is safe to repeat', () => {
  const open: Array<{close(): Promise<unknown>}> = []
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close()
  })
  const client = (url: string) => {
    const c = new L01Client({baseUrl: url, apiKey: 'k', timeoutMs: 2000})
    open.push(c)
    return c
  }

  it('a read whose connection broke is sent again and answered', async () => {
    const l01 = await flakyL01(1)
    open.push(l01)
    const res = await client(l01.url).getAgent('a1')
    expect(res.status).toBe(200)
    expect(l01.seen).toEqual(['GET /agents/a1', 'GET /agents/a1'])
  })

  it('a create without an Idempotency-Key is not repeated: it may have been done', async () => {
    const l01 = await flakyL01(1)
    open.push(l01)
    const err = await client(l01.url)
      .createAgent({name: 'x'})
      .catch((e: unknown) => e)
    expect(isPlatformError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true)
    expect(l01.seen).toEqual(['POST /agents/'])
  })

  it('a create with an Idempotency-Key is repeated with the same key', async () => {
    const l01 = await flakyL01(1)
    open.push(l01)
    const res = await client(l01.url).createAgent({name: 'x'}, {idempotencyKey: 'key-1'})
    expect(res.status).toBe(201)
    expect(l01.seen).toEqual(['POST /agents/ key-1', 'POST /agents/ key-1'])
  })

  it('gives up after one retry', async () => {
    const l01 = await flakyL01(5)
    open.push(l01)
    const err = await client(l01.url)
      .getAgent('a1')
      .catch((e: unknown) => e)
    expect(isPlatformError(err, 'UPSTREAM_UNAVAILABLE')).toBe(true)
    expect(l01.seen).toHaveLength(2)
  })
})
