/**
 * The in-process L01 (what L09 calls when both run in one event loop, the inline topology)
 * must answer as L01 over HTTP does. Two real gateways on one real database, on both
 * drivers: one reaching a listening L01 through L01Client, one calling InProcessL01 on the
 * same tables. Every request goes to both, one after the other, and the status, the body
 * (ids and timestamps of new rows aside) and the replay header must be the same.
 */
import type {FastifyInstance, InjectOptions} from 'fastify'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {createStore} from '../../src/data-layer/index.js'
import type {Db} from '../../src/db/index.js'
import {InProcessL01, buildGateway, type L01Client} from '../../src/gateway/index.js'
import type {Answered} from '../../src/observability/index.js'
import {describeEachDb, migratedDb} from '../support/dbs.js'
import {API_KEY, gatewayFor, listenL01, type L01Handle} from '../support/platform.js'

type Side = 'http' | 'local'
interface Case {
  what: string
  method: InjectOptions['method']
  url: string
  /** an object sent as JSON, or a text sent as it is */
  payload?: unknown
  headers?: Record<string, string>
}

const asJson = {'content-type': 'application/json'}
const NO_AGENT = '00000000-0000-4000-8000-000000000000'
/** What differs between two rows made by two requests alike: their generated ids and times. */
const GENERATED = new Set(['id', 'did', 'goal_id', 'task_id', 'created_at', 'updated_at', 'started_at', 'completed_at'])

function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, GENERATED.has(k) && typeof v === 'string' ? '<generated>' : masked(v)]),
  )
}

describeEachDb('L09 over the in-process L01 answers as over HTTP', (kind) => {
  let db: Db
  let l01: L01Handle
  let client: L01Client
  const gw = {} as Record<Side, FastifyInstance>
  const fx = {agent: '', goal: '', task: ''}

  beforeAll(async () => {
    db = await migratedDb(kind)
    l01 = await listenL01(db)
    ;({app: gw.http, client} = gatewayFor(l01.url))
    gw.local = buildGateway({l01: new InProcessL01(createStore(db), {baseUrl: l01.url}), apiKeys: [API_KEY], version: 'test'})
    const made = async (url: string, payload: object) =>
      (await gw.http.inject({method: 'POST', url, payload, headers: {'x-api-key': API_KEY}})).json()
    fx.agent = (await made('/api/v1/agents/', {name: 'fixture', metadata: {a: [1, {b: null}]}})).id
    fx.goal = (await made('/api/v1/goals/', {agent_id: fx.agent, description: 'fixture goal', priority: 3})).goal_id
    fx.task = (await made('/api/v1/tasks/', {plan_id: 'fixture-plan', agent_id: fx.agent, description: 'fixture task'})).task_id
  })
  afterAll(async () => {
    await Promise.all(Object.values(gw).map((g) => g.close()))
    await client?.close()
    await l01?.app.close()
    await db?.close()
  })

  const send = (side: Side, c: Case, headers: Record<string, string> = {}) =>
    gw[side].inject({
      method: c.method,
      url: c.url,
      payload: c.payload === undefined ? undefined : typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload),
      headers: {'x-api-key': API_KEY, ...(c.payload === undefined ? {} : asJson), ...c.headers, ...headers},
    })
  const answer = (r: Awaited<ReturnType<typeof send>>) => ({
    status: r.statusCode,
    type: r.headers['content-type'],
    replay: r.headers['idempotent-replay'],
    body: r.body ? masked(r.json()) : '',
  })
  async function expectSame(c: Case, headers: (side: Side) => Record<string, string> = () => ({})) {
    const http = answer(await send('http', c, headers('http')))
    const local = answer(await send('local', c, headers('local')))
    expect(local, `${c.method} ${c.url}`).toEqual(http)
    return http
  }

  const cases = (): Case[] => [
    // Reads.
    {what: 'an agent', method: 'GET', url: `/api/v1/agents/${fx.agent}`},
    {what: 'an agent by an upper-case UUID', method: 'GET', url: `/api/v1/agents/${fx.agent.toUpperCase()}`},
    {what: 'an unknown agent', method: 'GET', url: `/api/v1/agents/${NO_AGENT}`},
    {what: 'a malformed agent id', method: 'GET', url: '/api/v1/agents/not-a-uuid'},
    {what: 'a goal', method: 'GET', url: `/api/v1/goals/${fx.goal}`},
    {what: 'an unknown goal', method: 'GET', url: '/api/v1/goals/no-such-goal'},
    {what: 'a goal id of 300 characters', method: 'GET', url: `/api/v1/goals/${'g'.repeat(300)}`},
    {what: 'a task', method: 'GET', url: `/api/v1/tasks/${fx.task}`},
    {what: 'an unknown task', method: 'GET', url: '/api/v1/tasks/no-such-task'},
    {what: 'an id with spaces and unicode', method: 'GET', url: `/api/v1/goals/${encodeURIComponent('a goal é ✓')}`},
    // Lists.
    {what: 'a list', method: 'GET', url: '/api/v1/agents/'},
    {what: 'a page', method: 'GET', url: '/api/v1/agents/?limit=1&offset=0'},
    {what: 'an exact count', method: 'GET', url: '/api/v1/agents/?count=exact&status=created'},
    {what: 'a filter', method: 'GET', url: `/api/v1/goals/?agent_id=${fx.agent}`},
    {what: 'two filters', method: 'GET', url: `/api/v1/tasks/?plan_id=fixture-plan&agent_id=${fx.agent}&status=pending`},
    {what: 'a filter L09 does not forward', method: 'GET', url: `/api/v1/agents/?agent_id=${fx.agent}&other=1`},
    {what: 'limit 0', method: 'GET', url: '/api/v1/agents/?limit=0'},
    {what: 'limit 1001', method: 'GET', url: '/api/v1/agents/?limit=1001'},
    {what: 'a hexadecimal limit', method: 'GET', url: '/api/v1/agents/?limit=0x10'},
    {what: 'a limit given twice', method: 'GET', url: '/api/v1/agents/?limit=1&limit=2'},
    {what: 'a negative offset', method: 'GET', url: '/api/v1/goals/?offset=-1'},
    {what: 'an offset past 2^53', method: 'GET', url: '/api/v1/goals/?offset=9007199254740993'},
    {what: 'an unknown status', method: 'GET', url: '/api/v1/agents/?status=sleepy'},
    {what: 'count=approximate', method: 'GET', url: '/api/v1/tasks/?count=approximate'},
    {what: 'a malformed agent_id filter', method: 'GET', url: '/api/v1/goals/?agent_id=nope'},
    {what: 'an empty filter', method: 'GET', url: '/api/v1/tasks/?plan_id='},
    // Creates.
    {what: 'an agent', method: 'POST', url: '/api/v1/agents/', payload: {name: 'made', configuration: {k: [1, 2]}, status: 'active'}},
    {what: 'an agent without a name', method: 'POST', url: '/api/v1/agents/', payload: {agent_type: 'simple'}},
    {what: 'an agent named 42', method: 'POST', url: '/api/v1/agents/', payload: {name: 42}},
    {what: 'an agent of every wrong field', method: 'POST', url: '/api/v1/agents/', payload: {name: '', status: 'x', metadata: 'm'}},
    {what: 'an array body', method: 'POST', url: '/api/v1/agents/', payload: [{name: 'a'}]},
    {what: 'a string body', method: 'POST', url: '/api/v1/agents/', payload: '"name"'},
    {what: 'a null body', method: 'POST', url: '/api/v1/agents/', payload: 'null'},
    {what: 'no body', method: 'POST', url: '/api/v1/agents/', headers: asJson},
    {what: 'an unknown field', method: 'POST', url: '/api/v1/agents/', payload: {name: 'a', unknown: {x: 1}}},
    {
      what: 'a goal',
      method: 'POST',
      url: '/api/v1/goals/',
      payload: {agent_id: fx.agent, description: 'd', success_criteria: ['x'], priority: 7},
    },
    {what: 'a goal without text', method: 'POST', url: '/api/v1/goals/', payload: {agent_id: fx.agent}},
    {what: 'a goal of priority 11', method: 'POST', url: '/api/v1/goals/', payload: {description: 'd', priority: 11}},
    {what: 'a goal of priority "5"', method: 'POST', url: '/api/v1/goals/', payload: {description: 'd', priority: '5'}},
    {what: 'a goal of an unknown agent', method: 'POST', url: '/api/v1/goals/', payload: {description: 'd', agent_id: NO_AGENT}},
    {
      what: 'a goal of a urn:uuid agent',
      method: 'POST',
      url: '/api/v1/goals/',
      payload: {description: 'd', agent_id: `urn:uuid:${NO_AGENT}`},
    },
    {
      what: 'a task',
      method: 'POST',
      url: '/api/v1/tasks/',
      payload: {plan_id: 'p', description: 'a long enough description', status: 'running'},
    },
    {what: 'a completed task', method: 'POST', url: '/api/v1/tasks/', payload: {plan_id: 'p', status: 'completed', output_data: {r: 1}}},
    {what: 'a task without a plan', method: 'POST', url: '/api/v1/tasks/', payload: {description: 'd'}},
    {what: 'an empty Idempotency-Key', method: 'POST', url: '/api/v1/agents/', payload: {name: 'k'}, headers: {'idempotency-key': ''}},
    {
      what: 'a long Idempotency-Key',
      method: 'POST',
      url: '/api/v1/agents/',
      payload: {name: 'k'},
      headers: {'idempotency-key': 'k'.repeat(256)},
    },
    // Patches.
    {what: 'an agent', method: 'PATCH', url: `/api/v1/agents/${fx.agent}`, payload: {status: 'busy', metadata: {m: 1}}},
    {what: 'an agent with nothing to change', method: 'PATCH', url: `/api/v1/agents/${fx.agent}`, payload: {unknown: 1}},
    {what: 'an agent to a wrong status', method: 'PATCH', url: `/api/v1/agents/${fx.agent}`, payload: {status: 'sleepy'}},
    {what: 'an unknown agent', method: 'PATCH', url: `/api/v1/agents/${NO_AGENT}`, payload: {status: 'idle'}},
    {what: 'a malformed id and a wrong body', method: 'PATCH', url: '/api/v1/agents/nope', payload: {status: 'sleepy'}},
    {what: 'a goal', method: 'PATCH', url: `/api/v1/goals/${fx.goal}`, payload: {status: 'completed', goal_text: 'new text'}},
    {what: 'a goal without a body', method: 'PATCH', url: `/api/v1/goals/${fx.goal}`, headers: asJson},
    {what: 'an unknown goal', method: 'PATCH', url: '/api/v1/goals/nope', payload: {status: 'active'}},
    {what: 'a task to running', method: 'PATCH', url: `/api/v1/tasks/${fx.task}`, payload: {status: 'running'}},
    {what: 'a task to failed', method: 'PATCH', url: `/api/v1/tasks/${fx.task}`, payload: {status: 'failed', error: 'e'}},
    {what: "a task's plan to a number", method: 'PATCH', url: `/api/v1/tasks/${fx.task}`, payload: {plan_id: 5}},
    // Deletes.
    {what: 'an unknown agent', method: 'DELETE', url: `/api/v1/agents/${NO_AGENT}`},
    {what: 'a malformed agent id', method: 'DELETE', url: '/api/v1/agents/nope'},
  ]

  it('gives the same answer to every request of the corpus', async () => {
    const all = cases()
    const statuses = new Set<number>()
    for (const c of all) statuses.add((await expectSame(c)).status)
    // The corpus reaches every kind of answer, so agreement means something.
    for (const s of [200, 201, 400, 404]) expect(statuses).toContain(s)
  })

  it('deletes alike: 204, then 404', async () => {
    const ids: Record<Side, string> = {http: '', local: ''}
    for (const side of ['http', 'local'] as const) {
      ids[side] = (await send(side, {what: '', method: 'POST', url: '/api/v1/agents/', payload: {name: `to delete ${side}`}})).json().id
    }
    for (const _ of [1, 2]) {
      const [http, local] = await Promise.all(
        (['http', 'local'] as const).map((s) => send(s, {what: '', method: 'DELETE', url: `/api/v1/agents/${ids[s]}`})),
      )
      // The 404's message names the id, which is each side's own.
      expect(answer(local!)).toEqual(masked(JSON.parse(JSON.stringify(answer(http!)).replace(ids.http, ids.local))))
    }
    const gone = await db.query(`SELECT 1 FROM mcp_documents.agents WHERE id = ANY($1)`, [[ids.http, ids.local]])
    expect(gone.rows).toEqual([])
  })

  it('keeps Idempotency-Keys alike: a first create, a replay of it, a refusal of another body under the key', async () => {
    const create = {what: '', method: 'POST', url: '/api/v1/goals/', payload: {description: 'once', priority: 2}} as const
    const key = (side: Side) => ({'idempotency-key': `key-of-${side}-${kind}`})
    const first = await expectSame(create, key)
    expect(first.status).toBe(201)
    const again = await expectSame(create, key)
    expect(again).toMatchObject({status: 201, replay: 'true'})
    const other = await expectSame({...create, payload: {description: 'another', priority: 2}}, key)
    expect(other).toMatchObject({status: 422, body: {error: 'IDEMPOTENCY_MISMATCH'}})
    // The same key on both sides is one record: the second side replays the first side's row.
    const shared = {'idempotency-key': `shared-${kind}`}
    const made = await send('http', create, shared)
    const replayed = await send('local', create, shared)
    expect(replayed.headers['idempotent-replay']).toBe('true')
    expect(replayed.json()).toEqual(made.json())
  })

  it('answers 503 UPSTREAM_UNAVAILABLE alike when L01 does not answer in time, and serves again after', async () => {
    const slow = {
      http: gatewayFor(l01.url, 300),
      local: buildGateway({
        l01: new InProcessL01(createStore(db), {baseUrl: l01.url, timeoutMs: 300}),
        apiKeys: [API_KEY],
        version: 'test',
      }),
    }
    // The agent's row is locked by a transaction that waits (on PGlite: its one connection is held).
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let locked!: () => void
    const isLocked = new Promise<void>((r) => (locked = r))
    const tx = db.transaction(async (q) => {
      await q.query('SELECT 1 FROM mcp_documents.agents WHERE id = $1 FOR UPDATE', [fx.agent])
      locked()
      await held
    })
    await isLocked
    const patch = {
      method: 'PATCH',
      url: `/api/v1/agents/${fx.agent}`,
      payload: JSON.stringify({status: 'idle'}),
      headers: {'x-api-key': API_KEY, ...asJson},
    } as const
    try {
      const [http, local] = await Promise.all([slow.http.app.inject(patch), slow.local.inject(patch)])
      expect(http.statusCode).toBe(503)
      expect(http.json()).toMatchObject({error: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('no answer within 300 ms')})
      expect({status: local.statusCode, body: local.json()}).toEqual({status: 503, body: http.json()})
    } finally {
      release()
      await tx
    }
    expect((await slow.local.inject(patch)).statusCode).toBe(200)
    await Promise.all([slow.http.app.close(), slow.http.client.close(), slow.local.close()])
  })

  it("is in L01's log and metrics as over HTTP: the caller's request id, L01's route and URL, the status", async () => {
    const seen: Answered[] = []
    const observed = buildGateway({
      l01: new InProcessL01(createStore(db), {baseUrl: l01.url, observe: (a) => seen.push(a)}),
      apiKeys: [API_KEY],
      version: 'test',
    })
    const calls: Case[] = [
      {what: '', method: 'GET', url: `/api/v1/agents/${fx.agent}`},
      {what: '', method: 'GET', url: `/api/v1/tasks/?plan_id=fixture plan&limit=2`},
      {what: '', method: 'PATCH', url: `/api/v1/goals/${encodeURIComponent('no such goal')}`, payload: {status: 'active'}},
      {what: '', method: 'POST', url: '/api/v1/agents/', payload: {name: 7}},
    ]
    for (const [i, c] of calls.entries()) {
      const id = `trace-${kind}-${i}`
      const before = l01.seen.length
      const http = await send('http', c, {'x-request-id': id})
      const local = await observed.inject({
        ...c,
        payload: JSON.stringify(c.payload),
        headers: {'x-api-key': API_KEY, ...asJson, 'x-request-id': id},
      })
      expect(local.statusCode).toBe(http.statusCode)
      // What L01 saw over HTTP is what the in-process call reports.
      expect(l01.seen.slice(before)).toEqual([{id, url: seen.at(-1)!.url}])
      expect(seen.at(-1)).toMatchObject({reqId: id, method: c.method, status: http.statusCode})
    }
    expect(seen.map((a) => a.route)).toEqual(['/agents/:id', '/plans/tasks/', '/goals/:goal_id', '/agents/'])
    await observed.close()
  })

  it('is ready when the database answers, as L01 is', async () => {
    for (const side of ['http', 'local'] as const) expect((await gw[side].inject({url: '/health/ready'})).statusCode).toBe(200)
  })
})
