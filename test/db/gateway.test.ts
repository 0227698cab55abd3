import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isPlatformError} from '../../src/core/index.js'
import {L01Client} from '../../src/gateway/index.js'
import {migratedDb} from '../support/dbs.js'
import {API_KEY, INTERNAL_KEY, gatewayFor, listenL01, silentServer, type L01Handle} from '../support/platform.js'
import type {Db} from '../../src/db/index.js'
import type {FastifyInstance, InjectOptions} from 'fastify'

const auth = {'x-api-key': API_KEY}

describe('L09 gateway in front of a real L01 (PGlite)', () => {
  let db: Db
  let l01: L01Handle
  let gw: FastifyInstance
  let client: L01Client

  beforeAll(async () => {
    db = await migratedDb('pglite')
    l01 = await listenL01(db)
    ;({app: gw, client} = gatewayFor(l01.url))
  })
  afterAll(async () => {
    await gw.close()
    await client.close()
    await l01.app.close()
    await db.close()
  })

  const call = async (method: InjectOptions['method'], url: string, payload?: unknown, headers: Record<string, string> = auth) => {
    const r = await gw.inject({method, url, payload: payload as InjectOptions['payload'], headers})
    return {status: r.statusCode, body: r.body ? r.json() : undefined, headers: r.headers}
  }

  it('serves every /api/v1 route with real data from L01', async () => {
    const agent = await call('POST', '/api/v1/agents/', {name: 'through the gateway', configuration: {max_tokens: 500}})
    expect(agent.status).toBe(201)
    const id = agent.body.id as string
    expect((await call('GET', `/api/v1/agents/${id}`)).body).toMatchObject({
      id,
      name: 'through the gateway',
      configuration: {max_tokens: 500},
    })
    const list = await call('GET', '/api/v1/agents?limit=5')
    expect(list.status).toBe(200)
    expect(list.body).toMatchObject({limit: 5, offset: 0})
    expect(list.body.items.map((a: {id: string}) => a.id)).toContain(id)
    expect((await call('PATCH', `/api/v1/agents/${id}`, {status: 'busy'})).body.status).toBe('busy')

    const goal = await call('POST', '/api/v1/goals', {agent_id: id, description: 'a goal', success_criteria: ['x'], priority: 7})
    expect(goal.status).toBe(201)
    const goals = await call('GET', `/api/v1/goals/?agent_id=${id}`)
    expect(goals.body.items).toEqual([goal.body])
    expect((await call('GET', `/api/v1/goals/${goal.body.goal_id}`)).body).toEqual(goal.body)
    expect((await call('PATCH', `/api/v1/goals/${goal.body.goal_id}`, {status: 'completed'})).body.status).toBe('completed')

    const task = await call('POST', '/api/v1/tasks/', {
      plan_id: 'free-text-plan',
      agent_id: id,
      description: 'a task',
      input_data: {content: 'c'},
    })
    expect(task.status).toBe(201)
    expect(task.body).toMatchObject({plan_id: 'free-text-plan', name: 'a task', inputs: {content: 'c'}})
    expect((await call('GET', `/api/v1/tasks/${task.body.task_id}`)).body).toEqual(task.body)
    const tasks = await call('GET', '/api/v1/tasks?plan_id=free-text-plan')
    expect(tasks.body.items.map((t: {task_id: string}) => t.task_id)).toEqual([task.body.task_id])
    const done = await call('PATCH', `/api/v1/tasks/${task.body.task_id}`, {status: 'completed', output_data: {result: 'ok'}})
    expect(done.body).toMatchObject({status: 'completed', outputs: {result: 'ok'}})
    expect(done.body.completed_at).toMatch(/Z$/)

    expect((await call('DELETE', `/api/v1/agents/${id}`)).status).toBe(204)
    expect((await call('GET', `/api/v1/agents/${id}`)).status).toBe(404)
    expect((await call('GET', `/api/v1/goals/${goal.body.goal_id}`)).body.agent_id).toBeNull()
  })

  it('accepts a DELETE that says content-type: application/json and has no body (as the load scenario sends it)', async () => {
    const agent = await call('POST', '/api/v1/agents/', {name: 'to delete'})
    const r = await gw.inject({
      method: 'DELETE',
      url: `/api/v1/agents/${agent.body.id}`,
      headers: {...auth, 'content-type': 'application/json', 'content-length': '0'},
    })
    expect(r.statusCode).toBe(204)
    expect((await call('GET', `/api/v1/agents/${agent.body.id}`)).status).toBe(404)
    const post = await gw.inject({method: 'POST', url: '/api/v1/agents/', headers: {...auth, 'content-type': 'application/json'}})
    expect(post.statusCode).toBe(400)
  })

  it("forwards the caller's request id to L01 and echoes it", async () => {
    const r = await call('GET', '/api/v1/agents/', undefined, {...auth, 'x-request-id': 'trace-me-123'})
    expect(r.headers['x-request-id']).toBe('trace-me-123')
    expect(l01.seen.at(-1)!.id).toBe('trace-me-123')
    expect(l01.seen.at(-1)!.url).toMatch(/^\/agents\//)
  })

  it.each([
    ['no key', {}],
    ['a wrong key', {'x-api-key': 'wrong'}],
    ["the internal key (L01's, not a client key)", {'x-api-key': INTERNAL_KEY}],
    ['a wrong bearer', {authorization: 'Bearer nope'}],
  ])('answers 401 UNAUTHORIZED to %s, without calling L01', async (_name, headers) => {
    const before = l01.seen.length
    const r = await call('GET', '/api/v1/agents/', undefined, headers as Record<string, string>)
    expect(r.status).toBe(401)
    expect(r.body.error).toBe('UNAUTHORIZED')
    expect(l01.seen.length).toBe(before)
  })

  it('accepts Authorization: Bearer and leaves health and metrics open', async () => {
    expect((await call('GET', '/api/v1/agents/', undefined, {authorization: `Bearer ${API_KEY}`})).status).toBe(200)
    expect((await call('GET', '/health/ready', undefined, {})).status).toBe(200)
    expect((await call('GET', '/health', undefined, {})).body).toMatchObject({service: 'l09-api-gateway'})
    const metrics = await gw.inject({url: '/metrics'})
    expect(metrics.body).toMatch(/http_requests_total\{method="GET",route="\/api\/v1\/agents\/:id",status="\d+"\}/)
  })

  const agentPath = '/agents/00000000-0000-4000-8000-000000000000'
  const asJson = {'content-type': 'application/json'}
  const badCases: Array<[string, InjectOptions['method'], string, string | object, Record<string, string>]> = [
    ['malformed JSON', 'POST', '/agents/', '{"name": ', {'content-type': 'application/json'}],
    ['wrong content type', 'POST', '/goals/', 'name=x', {'content-type': 'text/plain'}],
    ['a wrong type', 'POST', '/agents/', {name: 42}, {}],
    ['a missing required field', 'POST', '/agents/', {agent_type: 'simple'}, {}],
    ['an unknown enum value', 'POST', '/agents/', {name: 'a', status: 'sleepy'}, {}],
    ['a malformed UUID in the path', 'GET', '/agents/not-a-uuid', '', {}],
    ['a malformed agent_id', 'POST', '/goals/', {agent_id: 'nope', description: 'x'}, {}],
    ['an unknown agent_id', 'POST', '/goals/', {agent_id: '00000000-0000-4000-8000-000000000000', description: 'x'}, {}],
    ['a NUL byte', 'POST', '/goals/', {description: 'a\u0000b'}, {}],
    ['a patch naming nothing', 'PATCH', '/goals/some-goal', {unknown: 1}, {}],
    ['an unknown agent', 'PATCH', agentPath, {status: 'idle'}, {}],
    ['a bad limit', 'GET', '/agents/?limit=0', '', {}],
    ['a body over 1 MiB', 'POST', '/agents/', {name: 'x', metadata: {blob: 'x'.repeat(1024 * 1024)}}, {}],
    ['a lone surrogate in a name', 'POST', '/agents/', '{"name": "\\ud800"}', asJson],
    ['a number that would become Infinity', 'POST', '/goals/', '{"description": "x", "metadata": {"n": 1e400}}', asJson],
    ['an integer beyond 2^53', 'POST', '/plans/tasks', '{"plan_id": "p", "input_data": {"n": 9007199254740993}}', asJson],
    ['a body with a BOM', 'POST', '/agents/', '\ufeff{"name": "a"}', asJson],
    ['a urn:uuid agent_id', 'POST', '/goals/', {agent_id: 'urn:uuid:00000000-0000-4000-8000-000000000000', description: 'x'}, {}],
    ['a hexadecimal limit', 'GET', '/agents/?limit=0x10', '', {}],
    ['a NUL in a query filter', 'GET', '/plans/tasks?plan_id=%00', '', {}],
    ['a NUL in the path', 'GET', '/goals/a%00b', '', {}],
    ['an Idempotency-Key over 255 characters', 'POST', '/agents/', {name: 'x'}, {'idempotency-key': 'k'.repeat(256)}],
  ]
  const counts = ['agents', 'goals', 'plans', 'tasks'].map((t) => `(SELECT count(*) FROM mcp_documents.${t})`)
  const rowCount = async () => (await db.query<{n: number}>(`SELECT ${counts.join(' + ')} AS n`)).rows[0]!.n

  it.each(badCases)('gives the same 4xx as L01 for %s', async (_name, method, path, payload, headers) => {
    const p = payload === '' ? undefined : (payload as InjectOptions['payload'])
    const before = await rowCount()
    const direct = await l01.app.inject({method, url: path, payload: p, headers: {'x-api-key': INTERNAL_KEY, ...headers}})
    const gwPath = `/api/v1${path.replace('/plans/tasks', '/tasks')}`
    const via = await gw.inject({method, url: gwPath, payload: p, headers: {...auth, ...headers}})
    expect(direct.statusCode).toBeGreaterThanOrEqual(400)
    expect(direct.statusCode).toBeLessThan(500)
    expect(via.statusCode).toBe(direct.statusCode)
    expect(via.json()).toEqual(direct.json())
    expect(await rowCount()).toBe(before)
  })

  it('refuses a 2 MiB body with 413 without reaching L01', async () => {
    const before = l01.seen.length
    const r = await call('POST', '/api/v1/goals/', {description: 'x'.repeat(2 * 1024 * 1024)})
    expect(r.status).toBe(413)
    expect(r.body.error).toBe('PAYLOAD_TOO_LARGE')
    expect(l01.seen.length).toBe(before)
  })

  it('detects an internal key mismatch at start, naming both settings', async () => {
    const wrong = new L01Client({baseUrl: l01.url, apiKey: 'not-the-internal-key'})
    const err = await wrong.probe().catch((e: unknown) => e)
    await wrong.close()
    expect(isPlatformError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as {suggestion: string}).suggestion).toContain('L01_API_KEY')
    expect((err as Error).message).toContain("refused the gateway's internal key")
  })
})

describe('L09 when L01 is away', () => {
  it('answers 503 at once when L01 refuses connections, and recovers when it is back, with no restart', async () => {
    const db = await migratedDb('pglite')
    const first = await listenL01(db)
    const {app: gw, client} = gatewayFor(first.url, 5000)
    try {
      const ok = await gw.inject({method: 'POST', url: '/api/v1/agents/', payload: {name: 'before'}, headers: auth})
      expect(ok.statusCode).toBe(201)
      await first.app.close()

      const down = await gw.inject({url: '/api/v1/agents/', headers: auth})
      expect(down.statusCode).toBe(503)
      expect(down.json()).toMatchObject({error: 'UPSTREAM_UNAVAILABLE'})
      expect(down.json().message).toContain('ECONNREFUSED') // refused, not waited out
      const ready = await gw.inject({url: '/health/ready'})
      expect(ready.statusCode).toBe(503)
      expect(ready.json().details[0].field).toBe('l01')

      const again = await listenL01(db, first.port)
      try {
        const back = await gw.inject({url: `/api/v1/agents/${ok.json().id}`, headers: auth})
        expect(back.statusCode).toBe(200)
        expect(back.json().name).toBe('before')
      } finally {
        await again.app.close()
      }
    } finally {
      await gw.close()
      await client.close()
      await db.close()
    }
  })

  it('answers 503 after its timeout when L01 accepts and never answers', async () => {
    const hung = await silentServer()
    const {app: gw, client} = gatewayFor(hung.url, 300)
    try {
      const r = await gw.inject({url: '/api/v1/agents/', headers: auth})
      expect(r.statusCode).toBe(503)
      expect(r.json()).toMatchObject({error: 'UPSTREAM_UNAVAILABLE'})
      expect(r.json().message).toContain('no answer within 300 ms')
    } finally {
      await gw.close()
      await client.close()
      await hung.close()
    }
  })
})
