/**
 * Bad input on every L01 write route, on both drivers: each case must be a 4xx in the one
 * error shape, and must leave every table exactly as it was. The cases are generated from
 * one table of routes; a route lists its fields' wrong values, required fields and enum.
 */
import {randomUUID} from 'node:crypto'
import type {FastifyInstance, InjectOptions} from 'fastify'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {AGENT_STATUSES, GOAL_STATUSES, PLAN_STATUSES, TASK_STATUSES, buildDataLayer} from '../../src/data-layer/index.js'
import type {Db} from '../../src/db/index.js'
import {BODY_LIMIT, MAX_DEPTH} from '../../src/server/index.js'
import {describeEachDb, migratedDb} from '../support/dbs.js'

const KEY = 'test-internal-key'
const TABLES = ['agents', 'goals', 'plans', 'tasks'] as const
const CODES = ['VALIDATION_FAILED', 'NOT_FOUND', 'CONFLICT', 'UNAUTHORIZED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']
const NUL = 'a\u0000b'
/** Lone surrogates: JSON.stringify writes them as \ud800 escapes, which JSON.parse reads back as they are. */
const HIGH = 'a\ud800b'
const LOW = '\udfffz'
/** Number texts JSON.parse would change: Infinity, -0, rounded integers, a float's lost digits, an underflow to 0. */
const INEXACT = [
  '1e400',
  '-1e400',
  '-0',
  '-0.0',
  '9007199254740993',
  '-9007199254740993',
  '12345678901234567890',
  '1e300',
  '0.10000000000000000001',
  '1e-400',
]
/** An array nested `depth` levels deep. */
const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : [nested(depth - 1)])

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field, as JSON
type Json = any
type Body = Record<string, unknown>

/** Rows the PATCH routes aim at, made in beforeAll. */
const fx = {agentId: '', goalId: `goal-${randomUUID()}`, planId: `plan-${randomUUID()}`, taskId: `task-${randomUUID()}`}

interface Route {
  method: 'POST' | 'PATCH'
  url: () => string
  /** A body the route accepts; each case breaks it in one way. */
  valid: () => Body
  /** [field, a value of the wrong type or out of range] */
  wrong: Array<[string, unknown]>
  required: string[]
  statuses: readonly string[]
  /** A plain string field, for the NUL and size cases. */
  text: string
  hasAgentId: boolean
  /** A malformed key in the path, when the key is a UUID. */
  badPath?: string
}

const agentWrong: Array<[string, unknown]> = [
  ['name', 123],
  ['name', null],
  ['name', ''],
  ['name', 'x'.repeat(256)],
  ['agent_type', 5],
  ['status', 7],
  ['configuration', 'x'],
  ['configuration', [1]],
  ['metadata', [1]],
  ['resource_limits', true],
]
const goalWrong: Array<[string, unknown]> = [
  ['goal_id', 5],
  ['agent_id', 5],
  ['goal_text', 5],
  ['goal_text', ''],
  ['description', false],
  ['priority', '5'],
  ['priority', 2.5],
  ['priority', 0],
  ['priority', 11],
  ['priority', null],
  ['success_criteria', {}],
  ['success_criteria', 'a'],
  ['metadata', []],
  ['parent_goal_id', 1],
  ['goal_type', null],
]
const planWrong: Array<[string, unknown]> = [
  ['plan_id', 1],
  ['goal_id', 2],
  ['agent_id', 3],
  ['status', null],
  ['tasks', {}],
  ['dependency_graph', 'x'],
  ['metadata', []],
]
const taskWrong: Array<[string, unknown]> = [
  ['task_id', 1],
  ['plan_id', 1],
  ['plan_id', ''],
  ['agent_id', true],
  ['name', 2],
  ['description', 3],
  ['task_type', []],
  ['inputs', []],
  ['input_data', 'x'],
  ['outputs', 5],
  ['output_data', []],
  ['metadata', 'm'],
  ['error', 5],
]

/** A PATCH cannot change the key: it is an unknown field there, and ignored. */
const patchable = (wrong: Array<[string, unknown]>, key: string) => wrong.filter(([f]) => f !== key)

const ROUTES: Record<string, Route> = {
  'POST /agents/': {
    method: 'POST',
    url: () => '/agents/',
    valid: () => ({name: 'ok'}),
    wrong: agentWrong,
    required: ['name'],
    statuses: AGENT_STATUSES,
    text: 'name',
    hasAgentId: false,
  },
  'PATCH /agents/:id': {
    method: 'PATCH',
    url: () => `/agents/${fx.agentId}`,
    valid: () => ({status: 'active'}),
    wrong: agentWrong,
    required: [],
    statuses: AGENT_STATUSES,
    text: 'name',
    hasAgentId: false,
    badPath: '/agents/not-a-uuid',
  },
  'POST /goals/': {
    method: 'POST',
    url: () => '/goals/',
    valid: () => ({goal_text: 'ok', agent_id: fx.agentId}),
    wrong: goalWrong,
    required: ['goal_text'],
    statuses: GOAL_STATUSES,
    text: 'goal_text',
    hasAgentId: true,
  },
  'PATCH /goals/:goal_id': {
    method: 'PATCH',
    url: () => `/goals/${fx.goalId}`,
    valid: () => ({priority: 3}),
    wrong: patchable(goalWrong, 'goal_id'),
    required: [],
    statuses: GOAL_STATUSES,
    text: 'description',
    hasAgentId: true,
  },
  'POST /plans/': {
    method: 'POST',
    url: () => '/plans/',
    valid: () => ({goal_id: fx.goalId}),
    wrong: planWrong,
    required: [],
    statuses: PLAN_STATUSES,
    text: 'goal_id',
    hasAgentId: true,
  },
  'PATCH /plans/:plan_id': {
    method: 'PATCH',
    url: () => `/plans/${fx.planId}`,
    valid: () => ({status: 'active'}),
    wrong: patchable(planWrong, 'plan_id'),
    required: [],
    statuses: PLAN_STATUSES,
    text: 'goal_id',
    hasAgentId: true,
  },
  'POST /plans/tasks': {
    method: 'POST',
    url: () => '/plans/tasks',
    valid: () => ({plan_id: 'p', description: 'ok'}),
    wrong: taskWrong,
    required: ['plan_id'],
    statuses: TASK_STATUSES,
    text: 'description',
    hasAgentId: true,
  },
  'PATCH /plans/tasks/:task_id': {
    method: 'PATCH',
    url: () => `/plans/tasks/${fx.taskId}`,
    valid: () => ({status: 'running'}),
    wrong: patchable(taskWrong, 'task_id'),
    required: [],
    statuses: TASK_STATUSES,
    text: 'name',
    hasAgentId: true,
  },
}

interface Case {
  route: string
  what: string
  request: () => InjectOptions
  status: number
  code: string
  /** The field the error must name. */
  field?: string
  allowed?: readonly string[]
}

/** UUIDs PostgreSQL or the contract do not take as they are: only 8-4-4-4-12 hex is canonical. */
const NON_CANONICAL_UUIDS = () => {
  const id = randomUUID()
  const joined = `${id.slice(0, 8)}-${id.slice(9, 13)}${id.slice(14)}`
  return [
    'not-a-uuid',
    '12345678-1234-1234-1234-12345678901',
    `${id}x`,
    "' OR 1=1 --",
    `urn:uuid:${id}`,
    `{${id}}`,
    id.replaceAll('-', ''),
    ` ${id}`,
    joined,
  ]
}

function casesFor(route: string, r: Route): Case[] {
  const json =
    (payload: Body | string, headers: Record<string, string> = {}) =>
    (): InjectOptions => ({
      method: r.method,
      url: r.url(),
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      headers: {'content-type': 'application/json', 'x-api-key': KEY, ...headers},
    })
  const bad = (what: string, body: () => Body, field: string, allowed?: readonly string[]): Case => ({
    route,
    what,
    request: () => json(body())(),
    status: 400,
    code: 'VALIDATION_FAILED',
    field,
    allowed,
  })
  const without = (field: string) => () => {
    const b = r.valid()
    delete b[field]
    if (field === 'goal_text') delete b.description // goal_text may also come from description
    return b
  }
  const v = r.valid
  const cases: Case[] = [
    {route, what: 'malformed JSON', request: json('{"name": "a",'), status: 400, code: 'VALIDATION_FAILED', field: 'body'},
    {route, what: 'an empty JSON body', request: json(''), status: 400, code: 'VALIDATION_FAILED'},
    ...['[]', '[{"name": "a"}]', '"text"', '42', 'null', 'true'].map((p) => ({
      route,
      what: `the JSON body ${p}`,
      request: json(p),
      status: 400,
      code: 'VALIDATION_FAILED',
    })),
    ...['text/plain', 'application/x-www-form-urlencoded', 'application/xml'].map((type) => ({
      route,
      what: `content-type ${type}`,
      request: json(JSON.stringify(v()), {'content-type': type}),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    })),
    ...r.wrong.map(([field, value]) => bad(`${field}: ${JSON.stringify(value)}`, () => ({...v(), [field]: value}), field)),
    ...r.required.map((field) => bad(`no ${field}`, without(field), field)),
    bad('an unknown status', () => ({...v(), status: 'bogus'}), 'status', r.statuses),
    bad('a status in the wrong case', () => ({...v(), status: r.statuses[0]!.toUpperCase()}), 'status', r.statuses),
    bad(`a NUL byte in ${r.text}`, () => ({...v(), [r.text]: NUL}), r.text),
    bad('a NUL byte in a nested JSONB value', () => ({...v(), metadata: {deep: [{x: NUL}]}}), 'metadata.deep.0.x'),
    bad('a NUL byte in a JSONB key', () => ({...v(), metadata: {'k\u0000': 1}}), 'metadata.k\u0000'),
    bad(`a lone high surrogate in ${r.text}`, () => ({...v(), [r.text]: HIGH}), r.text),
    bad(`a lone low surrogate in ${r.text}`, () => ({...v(), [r.text]: LOW}), r.text),
    bad('a lone surrogate in a nested JSONB value', () => ({...v(), metadata: {deep: [{x: HIGH}]}}), 'metadata.deep.0.x'),
    bad('a lone surrogate in a JSONB key', () => ({...v(), metadata: {[LOW]: 1}}), `metadata.${LOW}`),
    // sent as text: JSON.stringify cannot write these numbers
    ...INEXACT.map(
      (n): Case => ({
        route,
        what: `the JSONB number ${n}`,
        status: 400,
        code: 'VALIDATION_FAILED',
        field: 'metadata.list.1.n',
        request: () => json(JSON.stringify({...v(), metadata: {list: [1, {n: 0}]}}).replace('"n":0', `"n":${n}`))(),
      }),
    ),
    {
      route,
      what: 'a body with a UTF-8 BOM',
      request: () => json(`\ufeff${JSON.stringify(v())}`)(),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
    },
    {
      route,
      what: 'a body that is not valid UTF-8',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'body',
      request: () => {
        const bytes = Buffer.concat([Buffer.from(JSON.stringify(v()).slice(0, -1)), Buffer.from(',"metadata":{"x":"\xff"}}', 'latin1')])
        return {...json(v())(), payload: bytes}
      },
    },
    // sent as text: the client's own JSON.stringify would overflow on it
    {
      route,
      what: 'JSONB nested 10,000 deep',
      request: () =>
        json(JSON.stringify({...v(), metadata: {deep: 0}}).replace('"deep":0', `"deep":${'['.repeat(10_000)}${']'.repeat(10_000)}`))(),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'metadata.deep',
    },
    // body, metadata and deep are three levels: the innermost array sits at MAX_DEPTH (0-based)
    bad(`JSONB nested just past ${MAX_DEPTH} levels`, () => ({...v(), metadata: {deep: nested(MAX_DEPTH - 1)}}), 'metadata.deep'),
    {route, what: 'a body over 1 MiB', request: json({...v(), [r.text]: 'x'.repeat(BODY_LIMIT)}), status: 413, code: 'PAYLOAD_TOO_LARGE'},
    {
      route,
      what: 'no API key',
      request: () => ({...json(v())(), headers: {'content-type': 'application/json'}}),
      status: 401,
      code: 'UNAUTHORIZED',
    },
    {route, what: 'an empty API key', request: json(v(), {'x-api-key': ''}), status: 401, code: 'UNAUTHORIZED'},
    {route, what: 'a wrong API key', request: json(v(), {'x-api-key': `${KEY}x`}), status: 401, code: 'UNAUTHORIZED'},
    {
      route,
      what: 'a wrong Bearer key',
      request: () => ({...json(v())(), headers: {'content-type': 'application/json', authorization: 'Bearer nope'}}),
      status: 401,
      code: 'UNAUTHORIZED',
    },
    {
      route,
      what: 'no key and a malformed body',
      request: () => ({...json('{oops')(), headers: {'content-type': 'application/json'}}),
      status: 401,
      code: 'UNAUTHORIZED',
    },
  ]
  if (r.hasAgentId) {
    cases.push(
      ...NON_CANONICAL_UUIDS().map((id) => bad(`agent_id ${JSON.stringify(id)}`, () => ({...v(), agent_id: id}), 'agent_id')),
      bad('an agent_id of no agent', () => ({...v(), agent_id: randomUUID()}), 'agent_id'),
    )
  }
  if (r.badPath) {
    for (const path of [r.badPath, `/agents/urn:uuid:${randomUUID()}`, `/agents/${randomUUID().replaceAll('-', '')}`]) {
      const request = () => ({...json(v())(), url: path})
      cases.push({route, what: `a malformed UUID in the path ${path}`, request, status: 400, code: 'VALIDATION_FAILED', field: 'id'})
    }
  }
  if (r.method === 'PATCH' && !r.badPath) {
    const field = r.url().includes('/tasks/') ? 'task_id' : r.url().startsWith('/goals') ? 'goal_id' : 'plan_id'
    const request = () => ({...json(v())(), url: `${r.url().replace(/[^/]+$/, '')}a%00b`})
    cases.push({route, what: 'a NUL in the path', request, status: 400, code: 'VALIDATION_FAILED', field})
  }
  if (r.method === 'POST') {
    for (const key of ['', 'k'.repeat(256)]) {
      const request = () => json(v(), {'idempotency-key': key})()
      const what = `an Idempotency-Key of ${key.length} characters`
      cases.push({route, what, request, status: 400, code: 'VALIDATION_FAILED', field: 'Idempotency-Key'})
    }
  }
  if (r.method === 'PATCH') {
    for (const body of [{}, {unknown_field: 1}])
      cases.push({
        route,
        what: `a body naming no updatable field ${JSON.stringify(body)}`,
        request: json(body),
        status: 400,
        code: 'VALIDATION_FAILED',
        field: 'body',
      })
  }
  return cases
}

const CASES = Object.entries(ROUTES).flatMap(([route, r]) => casesFor(route, r))

/** Error shape: exactly {error, message, details?}, a catalogue code, no stack or SQL. */
function expectErrorBody(body: Json, code: string): void {
  expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['error', 'message']))
  expect(Object.keys(body).every((k) => ['error', 'message', 'details'].includes(k))).toBe(true)
  expect(body.error).toBe(code)
  expect(body.error).toMatch(/^[A-Z_]+$/)
  expect(CODES).toContain(body.error)
  expect(typeof body.message).toBe('string')
  expect(body.message.length).toBeGreaterThan(0)
  if (body.details !== undefined) {
    expect(Array.isArray(body.details)).toBe(true)
    for (const d of body.details) expect(typeof d.message).toBe('string')
  }
  expect(JSON.stringify(body)).not.toMatch(/\bat .+:\d+:\d+|INSERT INTO|UPDATE mcp_documents|SELECT .* FROM|mcp_documents\./)
}

describeEachDb('L01 bad input', (kind) => {
  let db: Db
  let app: FastifyInstance

  beforeAll(async () => {
    db = await migratedDb(kind)
    app = buildDataLayer({db, apiKeys: [KEY], version: 'test'})
    await app.ready()
    const post = async (url: string, payload: Body) => {
      const res = await app.inject({method: 'POST', url, payload, headers: {'x-api-key': KEY}})
      expect(res.statusCode, res.body).toBe(201)
      return res.json()
    }
    fx.agentId = (await post('/agents/', {name: 'fixture'})).id
    await post('/goals/', {goal_id: fx.goalId, goal_text: 'fixture', agent_id: fx.agentId})
    await post('/plans/', {plan_id: fx.planId, agent_id: fx.agentId})
    await post('/plans/tasks', {task_id: fx.taskId, plan_id: fx.planId, agent_id: fx.agentId})
  })
  afterAll(async () => {
    await app?.close()
    await db?.close()
  })

  /** Each table's row count and a digest of its contents, so a changed row shows too. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {}
    for (const t of TABLES) {
      const r = await db.query<{n: number; h: string}>(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY seq), '')) AS h FROM mcp_documents.${t} t`,
      )
      out[t] = r.rows[0]
    }
    return out
  }

  it.each(Object.entries(ROUTES))('%s accepts the valid base body its cases break, and JSON nested to the limit', async (_name, r) => {
    for (const payload of [r.valid(), {...r.valid(), metadata: {deep: nested(MAX_DEPTH - 2)}}]) {
      const res = await app.inject({method: r.method, url: r.url(), payload, headers: {'x-api-key': KEY}})
      expect(res.statusCode, res.body).toBe(r.method === 'POST' ? 201 : 200)
      expect(res.json().metadata).toEqual(payload.metadata ?? {})
    }
  })

  it.each(CASES)('$route with $what: $status $code, nothing written', async (c) => {
    const before = await snapshot()
    const res = await app.inject(c.request())
    expect(res.statusCode, res.body).toBe(c.status)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.headers['x-request-id']).toBeTruthy()
    const body = res.json()
    expectErrorBody(body, c.code)
    if (c.field !== undefined) {
      const named = body.details?.filter((d: Json) => d.field === c.field || d.field.startsWith(`${c.field}.`))
      expect(named?.length, `details name ${c.field}: ${res.body.slice(0, 300)}`).toBeGreaterThan(0)
      expect(body.message).toContain(c.field.split('.')[0])
    }
    if (c.allowed) expect(body.details.find((d: Json) => d.allowed)?.allowed).toEqual([...c.allowed])
    expect(await snapshot()).toEqual(before)
  })

  // --- text that looks like SQL, quotes and emoji are plain data --------------------------

  const NASTY = [
    `it's "quoted" \`back\``,
    'a; b; c;',
    `'; DROP TABLE x; --`,
    `Robert'); DROP TABLE mcp_documents.agents;--`,
    `" OR ""="`,
    '😀🚀 👩‍👩‍👧‍👦 🏳️‍🌈',
    'ünïcödé 中文 עברית \u200b zero-width',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${x} is the point of this input
    '\\ backslash \\n $1 %s %% ${x} \\x00',
    '\t tab\nnewline\r\n',
  ]
  it.each(NASTY)('stores %j byte-for-byte in text, keys and JSONB, on every table', async (s) => {
    const id = (prefix: string) => `${prefix}-${s}-${randomUUID()}`
    const send = async (method: 'POST' | 'GET', url: string, payload?: Body) => {
      const res = await app.inject({method, url, payload, headers: {'x-api-key': KEY}})
      expect(res.statusCode, res.body).toBe(method === 'POST' ? 201 : 200)
      return res.json()
    }
    const agent = await send('POST', '/agents/', {name: s, agent_type: s, metadata: {[s]: s, list: [s]}})
    const goal = await send('POST', '/goals/', {
      goal_id: id('g'),
      agent_id: agent.id,
      agent_did: s,
      goal_text: s,
      success_criteria: [s, {[s]: s}],
    })
    const plan = await send('POST', '/plans/', {plan_id: id('p'), goal_id: goal.goal_id, tasks: [s], metadata: {[s]: s}})
    const task = await send('POST', '/plans/tasks', {
      task_id: id('t'),
      plan_id: s,
      name: s,
      description: s,
      error: s,
      input_data: {[s]: [s]},
    })
    const read = {
      agent: await send('GET', `/agents/${agent.id}`),
      goal: await send('GET', `/goals/${encodeURIComponent(goal.goal_id)}`),
      plan: await send('GET', `/plans/${encodeURIComponent(plan.plan_id)}`),
      task: await send('GET', `/plans/tasks/${encodeURIComponent(task.task_id)}`),
    }
    expect(read).toEqual({agent, goal, plan, task})
    expect(read.agent).toMatchObject({name: s, agent_type: s, metadata: {[s]: s, list: [s]}})
    expect(read.goal).toMatchObject({agent_did: s, goal_text: s, success_criteria: [s, {[s]: s}]})
    expect(read.goal.goal_id.startsWith(`g-${s}-`)).toBe(true)
    expect(read.plan).toMatchObject({tasks: [s], metadata: {[s]: s}})
    expect(read.task).toMatchObject({plan_id: s, name: s, description: s, error: s, inputs: {[s]: [s]}})
    // the bytes in the database are the UTF-8 of the string sent, and a filter finds it
    const stored = await db.query<{hex: string}>(
      `SELECT encode(convert_to(name, 'UTF8'), 'hex') AS hex FROM mcp_documents.tasks WHERE task_id = $1`,
      [task.task_id],
    )
    expect(stored.rows[0]!.hex).toBe(Buffer.from(s, 'utf8').toString('hex'))
    const listed = await send('GET', `/plans/tasks?plan_id=${encodeURIComponent(s)}&limit=1`)
    expect(listed.items[0]).toEqual(task)
  })

  it('keeps every number JSON can hold exactly as it was sent, in JSONB and in integer columns', async () => {
    const numbers = `{"max":9007199254740992,"min":-9007199254740992,"tenth":0.1,"small":1.5e-7,"float":0.7234567890123456,
      "tiny":2.5e-300,"zero":0,"one":1.0,"neg":-0.5}`
    const sent = JSON.parse(numbers)
    const payload = `{"goal_text":"n","priority":7,"metadata":${numbers},"success_criteria":[${numbers}]}`
    const res = await app.inject({method: 'POST', url: '/goals/', payload, headers: {'x-api-key': KEY, 'content-type': 'application/json'}})
    expect(res.statusCode, res.body).toBe(201)
    const read = await app.inject({method: 'GET', url: `/goals/${res.json().goal_id}`, headers: {'x-api-key': KEY}})
    expect(read.json()).toMatchObject({priority: 7, metadata: sent, success_criteria: [sent]})
    // PostgreSQL writes numbers in its own notation (1.5e-7 as 0.00000015): the value is kept, and these digits too
    for (const text of ['9007199254740992', '-9007199254740992', '0.7234567890123456']) expect(read.body).toContain(text)
  })

  it('takes a UUID in upper case as the same UUID', async () => {
    const upper = fx.agentId.toUpperCase()
    const payload = {goal_text: 'upper', agent_id: upper}
    const res = await app.inject({method: 'POST', url: '/goals/', payload, headers: {'x-api-key': KEY}})
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().agent_id).toBe(fx.agentId)
    expect((await app.inject({method: 'GET', url: `/agents/${upper}`, headers: {'x-api-key': KEY}})).json().id).toBe(fx.agentId)
  })

  // --- list query strings ------------------------------------------------------------------

  const LISTS: Array<[string, readonly string[], boolean]> = [
    ['/agents/', AGENT_STATUSES, false],
    ['/goals/', GOAL_STATUSES, true],
    ['/plans/', PLAN_STATUSES, true],
    ['/plans/tasks', TASK_STATUSES, true],
  ]
  const QUERIES: Array<[string, string]> = [
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=-5', 'limit'],
    ['offset=-1', 'offset'],
    ['offset=abc', 'offset'],
    ['offset=1e30', 'offset'],
    ['offset=9223372036854775807', 'offset'],
    ['status=bogus', 'status'],
    ['status=', 'status'],
    // integers are decimal digits only: no hex, exponent, sign, space or repeat
    ['limit=0x10', 'limit'],
    ['limit=1e2', 'limit'],
    ['limit=%205', 'limit'],
    ['limit=+5', 'limit'],
    ['limit=5%20', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['offset=0x10', 'offset'],
    ['offset=1e2', 'offset'],
    ['offset=-0', 'offset'],
    // text a column cannot hold, or a query that does not decode
    ['status=pending%00', 'status'],
    ['status=%ED%A0%80', 'status'],
    ['status=%FF', 'status'],
    ['status=%E0%A4%A', 'status'],
  ]
  type Statuses = readonly string[] | undefined
  const LIST_CASES = LISTS.flatMap(([url, statuses, hasAgent]) => [
    ...QUERIES.map(([q, field]) => ({url: `${url}?${q}`, field, allowed: field === 'status' && !q.includes('%') ? statuses : undefined})),
    ...(hasAgent ? NON_CANONICAL_UUIDS() : []).map((id) => ({
      url: `${url}?agent_id=${encodeURIComponent(id)}`,
      field: 'agent_id',
      allowed: undefined as Statuses,
    })),
  ])
  it.each(LIST_CASES)('GET $url is 400 naming $field', async ({url, field, allowed}) => {
    const res = await app.inject({method: 'GET', url, headers: {'x-api-key': KEY}})
    expect(res.statusCode, res.body).toBe(400)
    const body = res.json()
    expectErrorBody(body, 'VALIDATION_FAILED')
    expect(body.details.map((d: Json) => d.field)).toContain(field)
    if (allowed) expect(body.details.find((d: Json) => d.allowed).allowed).toEqual([...allowed])
  })

  it.each([
    ['/goals/%00', 'goal_id'],
    ['/plans/a%00b', 'plan_id'],
    ['/plans/tasks/%00', 'task_id'],
    ['/plans/tasks?plan_id=%00', 'plan_id'],
    ['/plans/tasks?plan_id=a%ED%A0%80', 'plan_id'],
    ['/goals/?parent=%00', 'parent'],
    [`/agents/urn:uuid:${randomUUID()}`, 'id'],
  ])('GET %s is 400 naming %s, never a database error', async (url, field) => {
    const res = await app.inject({method: 'GET', url, headers: {'x-api-key': KEY}})
    expect(res.statusCode, res.body).toBe(400)
    const body = res.json()
    expectErrorBody(body, 'VALIDATION_FAILED')
    expect(body.details[0].field).toBe(field)
    expect(body.message).toContain(field)
  })

  it.each(['/goals/%E0%A4%A', `/goals/${'x'.repeat(5000)}`, `/agents/${'a'.repeat(2000)}`])(
    'GET %s is a 4xx in the error shape, never a 500',
    async (url) => {
      const res = await app.inject({method: 'GET', url, headers: {'x-api-key': KEY, 'x-request-id': 'bad-url-1'}})
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400)
      expect(res.statusCode, res.body).toBeLessThan(500)
      expect(res.headers['x-request-id']).toBe('bad-url-1')
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expectErrorBody(res.json(), res.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED')
    },
  )

  it('the largest exact offset is an empty page', async () => {
    const res = await app.inject({method: 'GET', url: `/agents/?offset=${Number.MAX_SAFE_INTEGER}`, headers: {'x-api-key': KEY}})
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({items: [], offset: Number.MAX_SAFE_INTEGER})
  })
})
