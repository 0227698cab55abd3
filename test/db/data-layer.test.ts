/**
 * L01 against the contract, on both drivers, through Fastify's inject (no sockets).
 * One migrated database and one app per driver; tests share it and so make their own rows.
 */
import {randomUUID} from 'node:crypto'
import {expect, it} from 'vitest'
import {dataLayerOn, describeEachDb} from '../support/dbs.js'

const KEY = 'test-internal-key'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const PAST = '2000-01-01T00:00:00.000Z'

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field, as JSON
type Json = any
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
interface Res {
  status: number
  body: Json
  headers: Record<string, unknown>
}

/** Every non-null *_at field, in a row or a list page, is ISO 8601 UTC with Z. */
function expectUtcTimestamps(value: Json): void {
  if (Array.isArray(value)) {
    for (const v of value) expectUtcTimestamps(v)
  } else if (Array.isArray(value?.items)) {
    expectUtcTimestamps(value.items)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (k.endsWith('_at') && v !== null) expect(v, k).toMatch(ISO_UTC)
  }
}

describeEachDb('L01 data layer', (kind) => {
  const l01 = dataLayerOn(kind, KEY)

  /** One request with the key; checks the rules every answer keeps (JSON, request id, UTC timestamps). */
  async function call(method: Method, url: string, payload?: object, headers: Record<string, string> = {}): Promise<Res> {
    const res = await l01.app.inject({method, url, payload, headers: {'x-api-key': KEY, ...headers}})
    expect(res.headers['x-request-id'], `${method} ${url}`).toBeTruthy()
    expect(res.headers.location, `${method} ${url} is never a redirect`).toBeUndefined()
    if (res.statusCode === 204) {
      expect(res.body).toBe('')
      return {status: 204, body: undefined, headers: res.headers}
    }
    expect(res.headers['content-type'], `${method} ${url}`).toMatch(/^application\/json/)
    const body = res.json()
    expectUtcTimestamps(body)
    return {status: res.statusCode, body, headers: res.headers}
  }
  const ok = async (method: Method, url: string, payload?: object, status = method === 'POST' ? 201 : 200) => {
    const res = await call(method, url, payload)
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(status)
    return res.body
  }
  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    (await l01.db.query<{n: number}>(`SELECT count(*)::int AS n FROM mcp_documents.${table} WHERE ${where}`, params)).rows[0]!.n
  const newAgent = (body: object = {}) => ok('POST', '/agents/', {name: `agent ${randomUUID().slice(0, 8)}`, ...body})

  // --- agents -------------------------------------------------------------------------

  it('creates an agent with the contract defaults, a generated id and did', async () => {
    const a = await ok('POST', '/agents/', {name: 'Research Bot 1', unknown_field: 'ignored'})
    expect(a).toMatchObject({
      name: 'Research Bot 1',
      agent_type: 'general',
      status: 'created',
      configuration: {},
      metadata: {},
      resource_limits: {},
    })
    expect(a.id).toMatch(UUID)
    expect(a.did).toMatch(/^did:agent:research-bot-1:[0-9a-f]{8}$/)
    expect(a).not.toHaveProperty('unknown_field')
    expect(a).not.toHaveProperty('seq')
    expect(await ok('GET', `/agents/${a.id}`)).toEqual(a)
  })

  it.each(['!!!', '😀 Émoji Agent', 'x'.repeat(255), 'dots.and_under-scores'])(
    'generates a well-formed, unique did for the name %j',
    async (name) => {
      const [a, b] = [await ok('POST', '/agents/', {name}), await ok('POST', '/agents/', {name})]
      expect(a.did).toMatch(/^did:agent:[a-z0-9._-]+:[0-9a-f]{8}$/)
      expect(a.did).not.toBe(b.did)
      expect(a.name).toBe(name)
    },
  )

  it('round-trips JSONB fields as objects, never as encoded strings', async () => {
    const body = {
      name: 'jsonb',
      agent_type: 'specialized',
      status: 'active',
      configuration: {max_tokens: 500, temperature: 0.5},
      metadata: {created_by: 'load_test', tags: ['a', {b: null}]},
      resource_limits: {cpu: 2},
    }
    const a = await ok('POST', '/agents/', body)
    expect(a).toMatchObject(body)
    const [fromList] = (await ok('GET', '/agents/?limit=1')).items
    expect(fromList).toEqual(a)
    const stored = await l01.db.query<{t: string}>(`SELECT jsonb_typeof(configuration) AS t FROM mcp_documents.agents WHERE id = $1`, [
      a.id,
    ])
    expect(stored.rows[0]!.t).toBe('object')
  })

  it('lists agents newest first with total, limit and offset', async () => {
    const made = [await newAgent(), await newAgent(), await newAgent()]
    const newest = made.map((a) => a.id).reverse()
    const all = await ok('GET', '/agents/')
    expect(all).toMatchObject({limit: 100, offset: 0, total: await count('agents')})
    expect(Object.keys(all).sort()).toEqual(['items', 'limit', 'offset', 'total', 'total_exact'])
    expect(all.items.slice(0, 3).map((a: Json) => a.id)).toEqual(newest)
    const page = await ok('GET', '/agents/?limit=2&offset=1')
    expect(page).toMatchObject({limit: 2, offset: 1, total: all.total})
    expect(page.items.map((a: Json) => a.id)).toEqual(newest.slice(1, 3))
    expect((await ok('GET', `/agents/?offset=${all.total}`)).items).toEqual([])
  })

  it('filters agents by status', async () => {
    const s = await newAgent({status: 'suspended'})
    await newAgent({status: 'idle'})
    const page = await ok('GET', '/agents/?status=suspended&limit=1000')
    expect(page.total).toBe(await count('agents', `status = 'suspended'`))
    expect(page.items.length).toBe(page.total)
    expect(page.items.every((a: Json) => a.status === 'suspended')).toBe(true)
    expect(page.items[0].id).toBe(s.id)
  })

  it('gets, patches and deletes an agent; unknown is 404, a malformed id 400', async () => {
    const a = await newAgent()
    expect((await ok('PATCH', `/agents/${a.id}`, {status: 'busy', name: 'renamed'})).status).toBe('busy')
    expect(await ok('GET', `/agents/${a.id}`)).toMatchObject({status: 'busy', name: 'renamed', did: a.did})
    await ok('DELETE', `/agents/${a.id}`, undefined, 204)
    const missing = randomUUID()
    for (const [method, url] of [
      ['GET', `/agents/${a.id}`],
      ['PATCH', `/agents/${missing}`],
      ['DELETE', `/agents/${a.id}`],
    ] as const) {
      const r = await call(method, url, method === 'PATCH' ? {status: 'idle'} : undefined)
      expect(r.status, `${method} ${url}`).toBe(404)
      expect(r.body.error).toBe('NOT_FOUND')
    }
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const r = await call(method, '/agents/not-a-uuid', method === 'PATCH' ? {status: 'idle'} : undefined)
      expect(r.status, method).toBe(400)
      expect(r.body).toMatchObject({error: 'VALIDATION_FAILED', details: [expect.objectContaining({field: 'id'})]})
    }
  })

  it.each([
    ['/agents', '/agents/'],
    ['/goals', '/goals/'],
    ['/plans', '/plans/'],
    ['/plans/tasks', '/plans/tasks/'],
  ])('%s and %s are the same route, for GET and POST', async (bare, slash) => {
    const agent = await newAgent()
    const post = () => ({name: 'slash', agent_id: agent.id, goal_text: 'slash', plan_id: `plan-${randomUUID()}`})
    expect(await ok('GET', `${bare}?limit=5`)).toEqual(await ok('GET', `${slash}?limit=5`))
    const [x, y] = [await ok('POST', bare, post()), await ok('POST', slash, post())]
    expect(Object.keys(x).sort()).toEqual(Object.keys(y).sort())
  })

  it('PATCH replaces a JSONB field whole and moves updated_at forward', async () => {
    const a = await newAgent({configuration: {a: 1, b: {c: 2}}, metadata: {keep: true}})
    await l01.db.query(`UPDATE mcp_documents.agents SET updated_at = $2 WHERE id = $1`, [a.id, PAST])
    const p = await ok('PATCH', `/agents/${a.id}`, {configuration: {b: {d: 3}}})
    expect(p.configuration).toEqual({b: {d: 3}})
    expect(p.metadata).toEqual({keep: true})
    expect(p.created_at).toBe(a.created_at)
    expect(Date.parse(p.updated_at)).toBeGreaterThan(Date.parse(PAST))
    expect(Date.parse(p.updated_at)).toBeGreaterThanOrEqual(Date.parse(a.created_at))
  })

  it.each([
    ['agents', {}],
    ['agents', {did: 'did:agent:x:00000000', id: randomUUID(), unknown: 1}],
    ['goals', {goal_id: 'other'}],
    ['plans', {plan_id: 'other', nonsense: true}],
    ['tasks', {task_id: 'other'}],
  ])('a %s PATCH naming no updatable field (%j) is 400 and changes nothing', async (entity, body) => {
    const made: Record<string, () => Promise<[string, Json]>> = {
      agents: async () => ['/agents', (await newAgent()).id],
      goals: async () => ['/goals', (await ok('POST', '/goals/', {goal_text: 'g'})).goal_id],
      plans: async () => ['/plans', (await ok('POST', '/plans/', {})).plan_id],
      tasks: async () => ['/plans/tasks', (await ok('POST', '/plans/tasks', {plan_id: 'p'})).task_id],
    }
    const [prefix, key] = await made[entity]!()
    const url = `${prefix}/${key}`
    const row = await ok('GET', url)
    const r = await call('PATCH', url, body)
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('VALIDATION_FAILED')
    expect(r.body.details[0].allowed).toContain('metadata')
    expect(await ok('GET', url)).toEqual(row)
  })

  // --- goals --------------------------------------------------------------------------

  it('creates a goal: generated goal_id, goal_text from description, contract defaults', async () => {
    const agent = await newAgent()
    const criteria = ['answer found', {metric: 'recall', min: 0.9}, 3]
    const g = await ok('POST', '/goals/', {agent_id: agent.id, description: 'Find the answer', success_criteria: criteria})
    expect(g.goal_id).toMatch(UUID)
    expect(g).toMatchObject({
      agent_id: agent.id,
      agent_did: `agent-${agent.id}`,
      goal_text: 'Find the answer',
      goal_type: 'compound',
      status: 'pending',
      priority: 5,
      metadata: {},
    })
    expect(g.success_criteria).toEqual(criteria)
    expect(await ok('GET', `/goals/${g.goal_id}`)).toEqual(g)
    const bare = await ok('POST', '/goals/', {goal_text: 'no agent'})
    expect(bare).toMatchObject({agent_id: null, agent_did: null, success_criteria: []})
    expect((await ok('POST', '/goals/', {goal_text: 'wins', description: 'loses'})).goal_text).toBe('wins')
  })

  it('keeps a client goal_id and agent_did; a duplicate goal_id is 409 and adds no row', async () => {
    const agent = await newAgent()
    const goalId = `goal-${randomUUID()}`
    const g = await ok('POST', '/goals/', {
      goal_id: goalId,
      agent_id: agent.id,
      agent_did: 'did:custom',
      goal_text: 't',
      priority: 9,
      goal_type: 'atomic',
    })
    expect(g).toMatchObject({goal_id: goalId, agent_did: 'did:custom', priority: 9, goal_type: 'atomic'})
    const before = await count('goals')
    const dup = await call('POST', '/goals/', {goal_id: goalId, goal_text: 'again'})
    expect(dup.status).toBe(409)
    expect(dup.body).toMatchObject({error: 'CONFLICT', details: [expect.objectContaining({field: 'goal_id'})]})
    expect(await count('goals')).toBe(before)
  })

  it.each([
    ['POST', '/goals/', {goal_text: 't'}],
    ['POST', '/plans/', {}],
    ['POST', '/plans/tasks', {plan_id: 'p'}],
    ['PATCH', '/goals/:goal', {}],
  ] as const)('%s %s with an agent_id of no agent is 400 naming agent_id', async (method, path, body) => {
    const goal = await ok('POST', '/goals/', {goal_text: 'target'})
    const url = path.replace(':goal', goal.goal_id)
    const r = await call(method, url, {...body, agent_id: randomUUID()})
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('VALIDATION_FAILED')
    expect(r.body.message).toContain('agent_id')
    expect(r.body.details[0].field).toBe('agent_id')
  })

  it.each([
    ['goals', '/goals', 'goal_id', {goal_text: 't'}],
    ['plans', '/plans', 'plan_id', {}],
    ['tasks', '/plans/tasks', 'task_id', {plan_id: 'p'}],
  ] as const)('a client %s key of 255 characters, emoji included, can be read and patched', async (_what, prefix, key, body) => {
    for (const id of [`${randomUUID()}${'k'.repeat(219)}`, `${randomUUID().slice(0, 8)}${'😀'.repeat(247)}`]) {
      const made = await ok('POST', `${prefix}/`, {...body, [key]: id})
      expect(made[key]).toBe(id)
      const url = `${prefix}/${encodeURIComponent(id)}`
      expect(await ok('GET', url)).toEqual(made)
      expect((await ok('PATCH', url, {metadata: {patched: true}})).metadata).toEqual({patched: true})
    }
  })

  it('lists goals filtered by agent_id and status, newest first', async () => {
    const [a, b] = [await newAgent(), await newAgent()]
    const g1 = await ok('POST', '/goals/', {agent_id: a.id, goal_text: '1'})
    const g2 = await ok('POST', '/goals/', {agent_id: a.id, goal_text: '2', status: 'completed'})
    const g3 = await ok('POST', '/goals/', {agent_id: a.id, goal_text: '3'})
    await ok('POST', '/goals/', {agent_id: b.id, goal_text: 'other'})
    const mine = await ok('GET', `/goals/?agent_id=${a.id}`)
    expect(mine).toMatchObject({total: 3, limit: 100, offset: 0})
    expect(mine.items.map((g: Json) => g.goal_id)).toEqual([g3.goal_id, g2.goal_id, g1.goal_id])
    expect((await ok('GET', `/goals/?agent_id=${a.id}&status=completed`)).items).toEqual([g2])
    expect((await ok('GET', `/goals/?agent_id=${a.id}&status=pending&limit=1&offset=1`)).items).toEqual([g1])
    const completed = await ok('GET', '/goals/?status=completed&limit=1000')
    expect(completed.total).toBe(await count('goals', `status = 'completed'`))
  })

  it('patches a goal (description becomes goal_text); unknown goal is 404', async () => {
    const g = await ok('POST', '/goals/', {goal_text: 'old', success_criteria: ['a', 'b']})
    const p = await ok('PATCH', `/goals/${g.goal_id}`, {status: 'in_progress', priority: 2, description: 'new', success_criteria: ['c']})
    expect(p).toMatchObject({goal_id: g.goal_id, status: 'in_progress', priority: 2, goal_text: 'new', success_criteria: ['c']})
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', {status: 'failed'}],
    ] as const) {
      const r = await call(method, `/goals/no-such-goal-${randomUUID()}`, body)
      expect(r.status).toBe(404)
      expect(r.body.error).toBe('NOT_FOUND')
    }
  })

  // --- plans --------------------------------------------------------------------------

  it('creates, reads and patches plans; a duplicate plan_id is 409; unknown is 404', async () => {
    const agent = await newAgent()
    const p = await ok('POST', '/plans/', {
      agent_id: agent.id,
      goal_id: 'any-goal',
      tasks: [{step: 1}, 'two'],
      dependency_graph: {a: ['b']},
    })
    expect(p.plan_id).toMatch(UUID)
    expect(p).toMatchObject({
      agent_id: agent.id,
      goal_id: 'any-goal',
      status: 'draft',
      tasks: [{step: 1}, 'two'],
      dependency_graph: {a: ['b']},
      metadata: {},
    })
    expect(await ok('GET', `/plans/${p.plan_id}`)).toEqual(p)
    const patched = await ok('PATCH', `/plans/${p.plan_id}`, {status: 'active', tasks: [], dependency_graph: ['x']})
    expect(patched).toMatchObject({status: 'active', tasks: [], dependency_graph: ['x']})
    const planId = `plan-${randomUUID()}`
    expect((await ok('POST', '/plans/', {plan_id: planId})).plan_id).toBe(planId)
    const before = await count('plans')
    const dup = await call('POST', '/plans/', {plan_id: planId})
    expect(dup.status).toBe(409)
    expect(dup.body.error).toBe('CONFLICT')
    expect(await count('plans')).toBe(before)
    for (const method of ['GET', 'PATCH'] as const) {
      expect((await call(method, `/plans/${randomUUID()}`, method === 'PATCH' ? {status: 'failed'} : undefined)).status).toBe(404)
    }
  })

  // --- tasks --------------------------------------------------------------------------

  const longText = 'abcdefghij'.repeat(6)
  const emojis = '😀'.repeat(60)
  it.each([
    [{name: 'Named', description: 'ignored for the name'}, 'Named'],
    [{description: 'short description'}, 'short description'],
    [{description: longText}, longText.slice(0, 50)],
    [{description: emojis}, '😀'.repeat(50)],
    [{}, 'Unnamed task'],
    [{description: ''}, 'Unnamed task'],
  ])('a task created from %j is named %j', async (body, name) => {
    const t = await ok('POST', '/plans/tasks', {plan_id: 'naming', ...body})
    expect(t.name).toBe(name)
  })

  it('creates a task: generated task_id, defaults, free plan_id, input/output aliases', async () => {
    const agent = await newAgent()
    const planId = randomUUID()
    const t = await ok('POST', '/plans/tasks', {
      plan_id: planId,
      agent_id: agent.id,
      description: 'do it',
      task_type: 'analysis',
      input_data: {content: 'x', parameters: {priority: 3}},
    })
    expect(t.task_id).toMatch(UUID)
    expect(t).toMatchObject({
      plan_id: planId,
      agent_id: agent.id,
      task_type: 'analysis',
      status: 'pending',
      inputs: {content: 'x', parameters: {priority: 3}},
      outputs: {},
      metadata: {},
      started_at: null,
      completed_at: null,
    })
    expect(t).not.toHaveProperty('input_data')
    expect(await count('plans', 'plan_id = $1', [planId])).toBe(0)
    expect(await ok('GET', `/plans/tasks/${t.task_id}`)).toEqual(t)
    expect((await ok('POST', '/plans/tasks', {plan_id: 'not a uuid at all; any text', inputs: {a: 1}, input_data: {b: 2}})).inputs).toEqual(
      {a: 1},
    )
    const p = await ok('PATCH', `/plans/tasks/${t.task_id}`, {output_data: {result: 'r', timestamp: 't'}})
    expect(p.outputs).toEqual({result: 'r', timestamp: 't'})
    expect((await ok('PATCH', `/plans/tasks/${t.task_id}`, {outputs: {only: 'this'}})).outputs).toEqual({only: 'this'})
    const taskId = `task-${randomUUID()}`
    await ok('POST', '/plans/tasks', {plan_id: 'p', task_id: taskId})
    expect((await call('POST', '/plans/tasks/', {plan_id: 'p', task_id: taskId})).body.error).toBe('CONFLICT')
    expect((await call('GET', `/plans/tasks/${randomUUID()}`)).status).toBe(404)
  })

  it('sets started_at the first time a task runs and completed_at when it completes or fails', async () => {
    const t = await ok('POST', '/plans/tasks', {plan_id: 'lifecycle'})
    const running = await ok('PATCH', `/plans/tasks/${t.task_id}`, {status: 'running'})
    expect(running.started_at).not.toBeNull()
    expect(running.completed_at).toBeNull()
    // pin started_at to a known instant: a later `running` must leave it alone
    await l01.db.query(`UPDATE mcp_documents.tasks SET started_at = $2 WHERE task_id = $1`, [t.task_id, PAST])
    expect((await ok('PATCH', `/plans/tasks/${t.task_id}`, {status: 'running'})).started_at).toBe(PAST)
    const done = await ok('PATCH', `/plans/tasks/${t.task_id}`, {status: 'completed'})
    expect(done).toMatchObject({status: 'completed', started_at: PAST})
    expect(Date.parse(done.completed_at)).toBeGreaterThan(Date.parse(PAST))

    const f = await ok('POST', '/plans/tasks', {plan_id: 'lifecycle'})
    const failed = await ok('PATCH', `/plans/tasks/${f.task_id}`, {status: 'failed', error: 'boom'})
    expect(failed).toMatchObject({status: 'failed', error: 'boom', started_at: null})
    expect(failed.completed_at).toMatch(ISO_UTC)
    const born = await ok('POST', '/plans/tasks', {plan_id: 'lifecycle', status: 'running'})
    expect(born.started_at).toMatch(ISO_UTC)
  })

  it('lists tasks under /plans/tasks filtered by plan_id, agent_id and status', async () => {
    const agent = await newAgent()
    const planId = `plan-${randomUUID()}`
    const t1 = await ok('POST', '/plans/tasks', {plan_id: planId, agent_id: agent.id})
    const t2 = await ok('POST', '/plans/tasks', {plan_id: planId, status: 'blocked'})
    const t3 = await ok('POST', '/plans/tasks', {plan_id: `other-${randomUUID()}`, agent_id: agent.id, status: 'blocked'})
    const ids = async (q: string) => (await ok('GET', `/plans/tasks?${q}`)).items.map((t: Json) => t.task_id)
    expect(await ids(`plan_id=${planId}`)).toEqual([t2.task_id, t1.task_id])
    expect(await ids(`agent_id=${agent.id}`)).toEqual([t3.task_id, t1.task_id])
    expect(await ids(`agent_id=${agent.id}&status=blocked`)).toEqual([t3.task_id])
    expect(await ids(`plan_id=${planId}&agent_id=${agent.id}&status=pending`)).toEqual([t1.task_id])
    expect((await ok('GET', '/plans/tasks/?status=blocked&limit=1000')).total).toBe(await count('tasks', `status = 'blocked'`))
  })

  it('deleting an agent leaves its goals, plans and tasks with agent_id null', async () => {
    const agent = await newAgent()
    const g = await ok('POST', '/goals/', {agent_id: agent.id, goal_text: 'orphan'})
    const p = await ok('POST', '/plans/', {agent_id: agent.id})
    const t = await ok('POST', '/plans/tasks', {agent_id: agent.id, plan_id: p.plan_id})
    await ok('DELETE', `/agents/${agent.id}`, undefined, 204)
    expect(await ok('GET', `/goals/${g.goal_id}`)).toMatchObject({agent_id: null, agent_did: `agent-${agent.id}`})
    expect((await ok('GET', `/plans/${p.plan_id}`)).agent_id).toBeNull()
    expect((await ok('GET', `/plans/tasks/${t.task_id}`)).agent_id).toBeNull()
  })

  // --- common rules, health, metrics --------------------------------------------------

  it('echoes the caller x-request-id, on success and on error, else makes one', async () => {
    for (const url of ['/agents/', `/agents/${randomUUID()}`, '/agents/not-a-uuid', '/no/such/route']) {
      expect((await call('GET', url, undefined, {'x-request-id': 'trace-abc.123'})).headers['x-request-id']).toBe('trace-abc.123')
    }
    const [a, b] = [await call('GET', '/agents/'), await call('GET', '/agents/')]
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id'])
  })

  it('accepts the key as Authorization: Bearer too', async () => {
    const res = await l01.app.inject({method: 'GET', url: '/agents/?limit=1', headers: {authorization: `Bearer ${KEY}`}})
    expect(res.statusCode).toBe(200)
  })

  it('answers the health routes without a key', async () => {
    const get = (url: string) => l01.app.inject({method: 'GET', url})
    const live = await get('/health/live')
    expect(live.statusCode).toBe(200)
    expect(live.headers['content-type']).toMatch(/^application\/json/)
    const ready = await get('/health/ready')
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({dependencies: {database: 'ok'}})
    const health = await get('/health')
    expect(health.statusCode).toBe(200)
    expect(health.json()).toMatchObject({service: 'l01-data-layer', version: 'test'})
    expect((await get('/agents/')).statusCode).toBe(401)
  })

  it('serves Prometheus metrics without a key, labelled by route template, never a raw id', async () => {
    const id = randomUUID()
    await call('GET', `/agents/${id}`)
    await call('GET', `/unrouted/${id}`)
    const res = await l01.app.inject({method: 'GET', url: '/metrics'})
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toMatch(/^http_requests_total\{(?=[^}]*method="GET")(?=[^}]*route="\/agents\/:id")(?=[^}]*status="404")[^}]*\} [1-9]/m)
    expect(res.body).toMatch(/^http_request_duration_seconds_bucket\{[^}]*route="\/agents\/:id"/m)
    expect(res.body).toMatch(/^process_cpu_user_seconds_total /m)
    expect(res.body).not.toContain(id)
    expect(res.body).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)
  })

  it('200 parallel POST /goals/ give 200 distinct goal_ids and exactly 200 new rows', async () => {
    const agent = await newAgent()
    const before = await count('goals')
    const results = await Promise.all(
      Array.from({length: 200}, (_, i) =>
        l01.app.inject({
          method: 'POST',
          url: '/goals/',
          headers: {'x-api-key': KEY},
          payload: {agent_id: agent.id, description: `parallel ${i}`, priority: (i % 10) + 1},
        }),
      ),
    )
    expect(results.map((r) => r.statusCode)).toEqual(Array(200).fill(201))
    expect(new Set(results.map((r) => r.json().goal_id)).size).toBe(200)
    expect(await count('goals')).toBe(before + 200)
    expect((await ok('GET', `/goals/?agent_id=${agent.id}&limit=1`)).total).toBe(200)
  })
})
