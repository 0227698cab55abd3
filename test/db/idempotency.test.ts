/**
 * Idempotent creates on both drivers: replays, mismatches, keys per route, expiry, a second
 * request while the first is still running, and a lost answer retried through L09.
 */
import {randomUUID} from 'node:crypto'
import {connect, createServer, type Server, type Socket} from 'node:net'
import type {FastifyInstance} from 'fastify'
import {afterAll, beforeAll, expect, it} from 'vitest'
import type {Db} from '../../src/db/index.js'
import {describeEachDb, migratedDb} from '../support/dbs.js'
import {API_KEY, INTERNAL_KEY, gatewayFor, listenL01, type L01Handle} from '../support/platform.js'
import {waitFor} from '../support/wait.js'

type Body = Record<string, unknown>

/** Each create route, a body it accepts, and the table and key column of its rows. */
const ROUTES = [
  {url: '/agents/', table: 'agents', key: 'id', body: (): Body => ({name: `idem-${randomUUID()}`, metadata: {n: 1, list: [1, 'two']}})},
  {url: '/goals/', table: 'goals', key: 'goal_id', body: (): Body => ({description: `idem-${randomUUID()}`, priority: 3})},
  {url: '/plans/', table: 'plans', key: 'plan_id', body: (): Body => ({goal_id: `idem-${randomUUID()}`, tasks: [{step: 1}]})},
  {url: '/plans/tasks', table: 'tasks', key: 'task_id', body: (): Body => ({plan_id: `idem-${randomUUID()}`, description: 'a task'})},
] as const

/** A real TCP proxy in front of L01 that passes every request on, but keeps to itself the answers to those sent while holding. */
async function holdingProxy(target: number): Promise<{url: string; hold(on: boolean): void; close(): Promise<void>}> {
  let holding = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    // One request at a time on a connection (no pipelining): an answer belongs to the last request sent.
    let held = false
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (d) => {
      held = holding
      upstream.write(d)
    })
    // A held answer is dropped: the caller times out, as if L01 had stalled after committing.
    upstream.on('data', (d) => void (held || client.write(d)))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const {port} = server.address() as {port: number}
  return {
    url: `http://127.0.0.1:${port}`,
    hold: (on) => void (holding = on),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}

describeEachDb('idempotent creates', (kind) => {
  let db: Db
  let l01: L01Handle
  let app: FastifyInstance
  /** Called when L01 sends a statement that writes or reads an idempotency record. */
  let onKeyed: (() => void) | undefined

  beforeAll(async () => {
    db = await migratedDb(kind)
    // the real database, watched: the test learns when a keyed create has reached it
    const watched: Db = {
      ...db,
      query: (sql, params) => {
        if (sql.includes('idempotency_keys')) onKeyed?.()
        return db.query(sql, params)
      },
    }
    l01 = await listenL01(watched)
    app = l01.app
  })
  afterAll(async () => {
    await app?.close()
    await db?.close()
  })

  const post = (url: string, payload: Body | string, key?: string) => {
    const headers = {'x-api-key': INTERNAL_KEY, 'content-type': 'application/json', ...(key === undefined ? {} : {'idempotency-key': key})}
    return app.inject({method: 'POST', url, payload, headers})
  }
  const rows = async (table: string, col: string, value: unknown) =>
    (await db.query<{n: number}>(`SELECT count(*)::int AS n FROM mcp_documents.${table} WHERE ${col} = $1`, [value])).rows[0]!.n
  const total = async (table: string) => (await db.query<{n: number}>(`SELECT count(*)::int AS n FROM mcp_documents.${table}`)).rows[0]!.n
  const keys = async () => (await db.query<{n: number}>('SELECT count(*)::int AS n FROM mcp_documents.idempotency_keys')).rows[0]!.n

  it.each(ROUTES)('POST $url with a key: the same body again is the first answer, replayed; one row', async (r) => {
    const key = randomUUID()
    const body = r.body()
    const before = await total(r.table)
    const first = await post(r.url, body, key)
    expect(first.statusCode, first.body).toBe(201)
    expect(first.headers['idempotent-replay']).toBeUndefined()
    // the same body with its keys in another order and other spacing is the same request
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(body).reverse()), null, 2)
    for (const again of [body, reordered]) {
      const replay = await post(r.url, again, key)
      expect(replay.statusCode, replay.body).toBe(201)
      expect(replay.headers['idempotent-replay']).toBe('true')
      expect(replay.body).toBe(first.body)
    }
    expect(await rows(r.table, r.key, first.json()[r.key])).toBe(1)
    expect(await total(r.table)).toBe(before + 1)
  })

  it.each(ROUTES)('POST $url with a used key and another body: 422 IDEMPOTENCY_MISMATCH, nothing written', async (r) => {
    const key = randomUUID()
    expect((await post(r.url, r.body(), key)).statusCode).toBe(201)
    const before = {rows: await total(r.table), keys: await keys()}
    const res = await post(r.url, r.body(), key)
    expect(res.statusCode, res.body).toBe(422)
    expect(res.json()).toMatchObject({error: 'IDEMPOTENCY_MISMATCH', details: [{field: 'Idempotency-Key'}]})
    expect(res.headers['idempotent-replay']).toBeUndefined()
    expect({rows: await total(r.table), keys: await keys()}).toEqual(before)
  })

  it('scopes keys per route, and leaves creates without a key as they were', async () => {
    const key = randomUUID()
    for (const r of ROUTES) expect((await post(r.url, r.body(), key)).statusCode).toBe(201)
    const scopes = await db.query<{route: string}>('SELECT route FROM mcp_documents.idempotency_keys WHERE key = $1 ORDER BY route', [key])
    expect(scopes.rows.map((k) => k.route)).toEqual(['/agents', '/goals', '/plans', '/plans/tasks'])
    const before = {agents: await total('agents'), keys: await keys()}
    const body = ROUTES[0].body()
    const a = await post('/agents/', body)
    const b = await post('/agents/', body)
    expect([a.statusCode, b.statusCode]).toEqual([201, 201])
    expect(a.json().id).not.toBe(b.json().id)
    expect({agents: await total('agents'), keys: await keys()}).toEqual({agents: before.agents + 2, keys: before.keys})
  })

  it('a failed create keeps no key: the same key may then succeed', async () => {
    const key = randomUUID()
    const goalId = `taken-${randomUUID()}`
    expect((await post('/goals/', {goal_id: goalId, description: 'first'})).statusCode).toBe(201)
    const refused = await post('/goals/', {goal_id: goalId, description: 'dup'}, key)
    expect(refused.statusCode, refused.body).toBe(409)
    expect(refused.json().details[0].field).toBe('goal_id')
    const ok = await post('/goals/', {goal_id: `${goalId}-2`, description: 'dup'}, key)
    expect(ok.statusCode, ok.body).toBe(201)
  })

  it('a key older than 24 hours is forgotten: it may carry a new body, and a purge removes old records', async () => {
    const key = randomUUID()
    const first = await post('/agents/', ROUTES[0].body(), key)
    await db.query(`UPDATE mcp_documents.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [key])
    const second = await post('/agents/', ROUTES[0].body(), key)
    expect(second.statusCode, second.body).toBe(201)
    expect(second.headers['idempotent-replay']).toBeUndefined()
    expect(second.json().id).not.toBe(first.json().id)
    expect((await post('/agents/', ROUTES[0].body(), key)).statusCode).toBe(422) // the new record holds

    const old = randomUUID()
    await post('/agents/', ROUTES[0].body(), old)
    await db.query(`UPDATE mcp_documents.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [old])
    // expired records are purged now and then by keyed creates, in small batches
    await waitFor(
      'the expired record to be purged',
      async () => {
        await post('/plans/', ROUTES[2].body(), randomUUID())
        return (await db.query('SELECT 1 FROM mcp_documents.idempotency_keys WHERE key = $1', [old])).rows.length === 0
      },
      {every: 0, ms: 60_000},
    )
    expect(await rows('idempotency_keys', 'key', key)).toBe(1)
  })

  it('an Idempotency-Key of 255 characters, any of them, is taken', async () => {
    const key = `${'k'.repeat(250)} é,;=`
    const res = await post('/plans/tasks', ROUTES[3].body(), key)
    expect(res.statusCode, res.body).toBe(201)
    expect(await rows('idempotency_keys', 'key', key)).toBe(1)
  })

  /** Holds the agents table (PostgreSQL: a lock; PGlite: its one connection) until release() is called. */
  async function stallAgents(): Promise<{release(): void; done: Promise<unknown>}> {
    let release!: () => void
    let locked!: () => void
    const isLocked = new Promise<void>((r) => (locked = r))
    const done = db.transaction(async (tx) => {
      await tx.query('LOCK TABLE mcp_documents.agents IN EXCLUSIVE MODE')
      locked()
      await new Promise<void>((r) => (release = r))
    })
    await isLocked
    return {release: () => release(), done}
  }

  it('a second request while the first is still being processed is 409 CONFLICT; afterwards, the replay', async () => {
    const key = randomUUID()
    const body = ROUTES[0].body()
    const stall = await stallAgents()
    const reached = new Promise<void>((r) => (onKeyed = r))
    const first = post('/agents/', body, key)
    await reached
    onKeyed = undefined
    // the first request now waits on the held table, its key claimed
    const second = await post('/agents/', body, key)
    expect(second.statusCode, second.body).toBe(409)
    expect(second.json()).toMatchObject({error: 'CONFLICT', details: [{field: 'Idempotency-Key'}]})
    stall.release()
    await stall.done
    const created = await first
    expect(created.statusCode, created.body).toBe(201)
    const again = await post('/agents/', body, key)
    expect(again.statusCode).toBe(201)
    expect(again.headers['idempotent-replay']).toBe('true')
    expect(again.body).toBe(created.body)
    expect(await rows('agents', 'name', body.name)).toBe(1)
  })

  it('through L09: an answer lost past its timeout, then a retry with the same key, is one row', async () => {
    const proxy = await holdingProxy(l01.port)
    const {app: gw, client} = gatewayFor(proxy.url, 300)
    try {
      const key = randomUUID()
      const body = ROUTES[3].body()
      const headers = {'x-api-key': API_KEY, 'idempotency-key': key}
      const send = () => gw.inject({method: 'POST', url: '/api/v1/tasks/', payload: body, headers})
      proxy.hold(true)
      const lost = await send()
      expect(lost.statusCode, lost.body).toBe(503)
      expect(lost.json().error).toBe('UPSTREAM_UNAVAILABLE')
      // the create happened although its answer never came back
      const committed = async () => (await rows('tasks', 'plan_id', body.plan_id)) === 1
      await waitFor('the lost create to be committed', committed, {every: 20, ms: 9000})
      proxy.hold(false)
      const retry = await send()
      expect(retry.statusCode, retry.body).toBe(201)
      expect(retry.headers['idempotent-replay']).toBe('true')
      expect(retry.json()).toMatchObject({plan_id: body.plan_id, name: 'a task'})
      expect(await rows('tasks', 'plan_id', body.plan_id)).toBe(1)
    } finally {
      await gw.close()
      await client.close()
      await proxy.close()
    }
  })

  it('through L09: L01 stalled past the timeout, a retry while it still works is 409, the next one the replay; one row', async () => {
    const {app: gw, client} = gatewayFor(l01.url, 300)
    const stall = await stallAgents()
    try {
      const key = randomUUID()
      const body = ROUTES[0].body()
      const headers = {'x-api-key': API_KEY, 'idempotency-key': key}
      const send = () => gw.inject({method: 'POST', url: '/api/v1/agents/', payload: body, headers})
      const first = await send()
      expect(first.statusCode, first.body).toBe(503)
      const busy = await send()
      expect(busy.statusCode, busy.body).toBe(409)
      expect(busy.json().error).toBe('CONFLICT')
      stall.release()
      await stall.done
      const retry = await waitFor(
        'the retry to be answered with the first create',
        async () => {
          const r = await send()
          return r.statusCode === 201 ? r : undefined
        },
        {every: 20, ms: 10_000},
      )
      expect(retry.headers['idempotent-replay']).toBe('true')
      expect(await rows('agents', 'name', body.name)).toBe(1)
    } finally {
      stall.release()
      await gw.close()
      await client.close()
    }
  })
})
