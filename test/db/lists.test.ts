/**
 * Lists whose cost does not grow with the table, on both engines: `total` exact up to the
 * limit and PostgreSQL's estimate beyond it (`total_exact: false`), `?count=exact`, the same
 * rules under every filter, and rows rendered by PostgreSQL exactly as Node rendered them:
 * once per write, by migration 0005's trigger, whoever writes the row.
 */
import {cpSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {migrationsDir} from '../../src/core/index.js'
import {migrate} from '../../src/db/index.js'
import {dataLayerOn, describeEachDb, freshDb} from '../support/dbs.js'

const KEY = 'lists-key'
const LIMIT = 10_000

/** The rendering L01 used before PostgreSQL built the JSON: every column but seq (and doc), dates as toISOString(). */
function nodeRendering(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row)
      .filter(([k]) => k !== 'seq' && k !== 'doc')
      .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
  )
}

/** A call to L01 that must succeed: its JSON answer (none for a 204). */
const caller =
  (l01: ReturnType<typeof dataLayerOn>) => async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
    const res = await l01.app.inject({method, url, headers: {'x-api-key': KEY}, ...(payload ? {payload} : {})})
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300)
    return res.statusCode === 204 ? undefined : res.json()
  }

describeEachDb('L01 lists', (kind) => {
  const l01 = dataLayerOn(kind, KEY)
  const call = caller(l01)

  const list = async (url: string) => {
    const res = await l01.app.inject({method: 'GET', url, headers: {'x-api-key': KEY}})
    expect(res.statusCode, res.body).toBe(200)
    return res.json() as {items: Array<Record<string, unknown>>; total: number; total_exact: boolean; limit: number; offset: number}
  }
  /** n agents in one statement (the API would take too long), with the given status. */
  const seedAgents = (n: number, status: string) =>
    l01.db.query(
      `INSERT INTO mcp_documents.agents (did, name, status, configuration)
       SELECT 'did:agent:seed:' || gen_random_uuid(), 'seed ' || g, $2, jsonb_build_object('n', g) FROM generate_series(1, $1::int) g`,
      [n, status],
    )

  it('renders rows exactly as before, field for field, in a list and alone', async () => {
    const agent = (
      await l01.app.inject({
        method: 'POST',
        url: '/agents/',
        headers: {'x-api-key': KEY},
        payload: {name: 'rendered', metadata: {a: [1, {b: null}], s: 'é"\\'}},
      })
    ).json()
    const goal = await l01.app.inject({
      method: 'POST',
      url: '/goals/',
      headers: {'x-api-key': KEY},
      payload: {agent_id: agent.id, description: 'd', success_criteria: ['x', 2]},
    })
    const task = await l01.app.inject({
      method: 'POST',
      url: '/plans/tasks',
      headers: {'x-api-key': KEY},
      payload: {plan_id: 'render', status: 'running', input_data: {k: 1.5}},
    })
    for (const [table, key, id, url] of [
      ['agents', 'id', agent.id, `/agents/?status=created`],
      ['goals', 'goal_id', goal.json().goal_id, `/goals/?agent_id=${agent.id}`],
      ['tasks', 'task_id', task.json().task_id, '/plans/tasks?plan_id=render'],
    ] as const) {
      const stored = nodeRendering(
        (await l01.db.query<Record<string, unknown>>(`SELECT * FROM mcp_documents.${table} WHERE ${key} = $1`, [id])).rows[0]!,
      )
      const page = await list(url)
      expect(page.items.find((r) => r[key] === id)).toStrictEqual(stored)
      const one = await l01.app.inject({
        method: 'GET',
        url: `/${table === 'tasks' ? 'plans/tasks' : table}/${id}`,
        headers: {'x-api-key': KEY},
      })
      expect(one.json()).toStrictEqual(stored)
      expect(Object.keys(one.json())).toEqual(Object.keys(stored)) // and in the same order
    }
  })

  it('renders rows that SQL writes, and rows that ON DELETE SET NULL changes, as the API writes them', async () => {
    const stored = async (table: string, where: string) =>
      (await l01.db.query<Record<string, unknown>>(`SELECT * FROM mcp_documents.${table} WHERE ${where}`)).rows.map(nodeRendering)
    await l01.db.exec(`INSERT INTO mcp_documents.agents (did, name, metadata) VALUES ('did:agent:by-sql:1', 'by sql', '{"x": [1, 2]}')`)
    const agent = (await stored('agents', `did = 'did:agent:by-sql:1'`))[0]!
    expect((await list('/agents/?limit=1000')).items.find((r) => r.id === agent.id)).toStrictEqual(agent)

    const goal = (await call('POST', '/goals/', {agent_id: agent.id, description: 'orphaned soon'})) as {goal_id: string}
    await l01.db.exec(`UPDATE mcp_documents.agents SET status = 'busy' WHERE id = '${agent.id}'`)
    expect(((await call('GET', `/agents/${agent.id}`)) as {status: string}).status).toBe('busy')
    expect(await call('DELETE', `/agents/${agent.id}`)).toBeUndefined()
    const orphan = (await stored('goals', `goal_id = '${goal.goal_id}'`))[0]!
    expect(orphan.agent_id).toBeNull()
    expect(await call('GET', `/goals/${goal.goal_id}`)).toStrictEqual(orphan)
    expect((await list('/goals/?limit=1000')).items.find((r) => r.goal_id === goal.goal_id)).toStrictEqual(orphan)
  })

  it(`counts exactly up to ${LIMIT} matches, and says when total is an estimate beyond`, async () => {
    await seedAgents(LIMIT - 1, 'idle')
    await seedAgents(3, 'busy')
    expect(await list('/agents/?status=idle&limit=5')).toMatchObject({total: LIMIT - 1, total_exact: true, limit: 5, offset: 0})
    expect((await list('/agents/?status=idle&limit=5')).items).toHaveLength(5)

    await seedAgents(1, 'idle')
    expect(await list('/agents/?status=idle&limit=1')).toMatchObject({total: LIMIT, total_exact: true})

    await seedAgents(1, 'idle')
    const over = await list('/agents/?status=idle&limit=1')
    expect(over.total_exact).toBe(false)
    expect(over.total).toBeGreaterThan(LIMIT)
    expect(await list('/agents/?status=idle&limit=1&count=exact')).toMatchObject({total: LIMIT + 1, total_exact: true})
    // A small match in a large table is still exact.
    expect(await list('/agents/?status=busy')).toMatchObject({total: 3, total_exact: true})
    expect((await list('/agents/?status=busy')).items.map((a) => a.status)).toEqual(['busy', 'busy', 'busy'])
  }, 60_000)

  it('estimates a large match without counting it, and pages it newest first', async () => {
    await seedAgents(5 * LIMIT, 'suspended')
    await l01.db.exec('ANALYZE mcp_documents.agents')
    const page = await list('/agents/?status=suspended&limit=3&offset=2')
    expect(page.total_exact).toBe(false)
    // The planner's estimate, after ANALYZE close to the truth (50,000), never a count of it.
    expect(page.total).toBeGreaterThan(4 * LIMIT)
    expect(page.total).toBeLessThan(6 * LIMIT)
    const names = page.items.map((a) => a.name)
    expect(names).toEqual([`seed ${5 * LIMIT - 2}`, `seed ${5 * LIMIT - 3}`, `seed ${5 * LIMIT - 4}`])
    expect(await list('/agents/?status=suspended&limit=1&count=exact')).toMatchObject({total: 5 * LIMIT, total_exact: true})
  }, 120_000)

  it('keeps the same rules under the goal and task filters (agent_id, plan_id)', async () => {
    const agent = (await l01.app.inject({method: 'POST', url: '/agents/', headers: {'x-api-key': KEY}, payload: {name: 'owner'}})).json()
    await l01.db.query(
      `INSERT INTO mcp_documents.goals (goal_id, agent_id, goal_text) SELECT 'g-' || g, $1, 'seeded' FROM generate_series(1, $2::int) g`,
      [agent.id, LIMIT + 1],
    )
    await l01.db.query(
      `INSERT INTO mcp_documents.tasks (task_id, plan_id, name) SELECT 't-' || g, 'big-plan', 'seeded' FROM generate_series(1, $1::int) g`,
      [LIMIT],
    )
    expect(await list(`/goals/?agent_id=${agent.id}&limit=1`)).toMatchObject({total_exact: false})
    expect(await list(`/goals/?agent_id=${agent.id}&limit=1&count=exact`)).toMatchObject({total: LIMIT + 1, total_exact: true})
    expect(await list(`/goals/?agent_id=${agent.id}&status=completed`)).toMatchObject({total: 0, total_exact: true, items: []})
    expect(await list('/plans/tasks?plan_id=big-plan&limit=1')).toMatchObject({total: LIMIT, total_exact: true})
    expect(await list('/plans/tasks?plan_id=other-plan')).toMatchObject({total: 0, total_exact: true, items: []})
  }, 60_000)

  it('refuses a count mode it does not know, naming the allowed one', async () => {
    const res = await l01.app.inject({method: 'GET', url: '/agents/?count=fast', headers: {'x-api-key': KEY}})
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({error: 'VALIDATION_FAILED', details: [{field: 'count', allowed: ['exact']}]})
  })
})

describeEachDb('L01 list totals kept by triggers', (kind) => {
  const l01 = dataLayerOn(kind, KEY)
  const call = caller(l01)
  const lists: Array<[url: string, statuses: readonly string[]]> = [
    ['/agents/', ['created', 'active', 'idle', 'busy']],
    ['/goals/', ['pending', 'active', 'completed']],
    ['/plans/', ['draft', 'active', 'completed']],
    ['/plans/tasks', ['pending', 'running', 'completed']],
  ]
  /** Every list's total, unfiltered and per status, as kept, after checking each against a count of the rows. */
  const expectExact = async () => {
    const kept: Record<string, number> = {}
    for (const [url, statuses] of lists) {
      for (const q of ['', ...statuses.map((s) => `status=${s}&`)]) {
        const page = await call('GET', `${url}?${q}limit=1`)
        expect(page.total_exact).toBe(true)
        expect(page.total, `${url}?${q}`).toBe((await call('GET', `${url}?${q}limit=1&count=exact`)).total)
        kept[`${url}?${q}`] = page.total
      }
    }
    return kept
  }

  it('stay exact through creates, status changes, deletes, bulk statements, truncation and concurrent writers', async () => {
    const agents = await Promise.all(Array.from({length: 40}, (_, i) => call('POST', '/agents/', {name: `a${i}`})))
    const goal = await call('POST', '/goals/', {agent_id: agents[0].id, description: 'g'})
    await call('POST', '/plans/', {goal_id: goal.goal_id, status: 'active'})
    await Promise.all(Array.from({length: 10}, (_, i) => call('POST', '/plans/tasks', {plan_id: 'p', name: `t${i}`})))
    const first = await expectExact()
    expect(first).toMatchObject({'/agents/?': 40, '/plans/?status=active&': 1, '/plans/tasks?': 10})

    // Status changes move rows between totals; a PATCH that keeps the status moves none.
    await Promise.all(agents.slice(0, 12).map((a, i) => call('PATCH', `/agents/${a.id}`, {status: i % 2 ? 'idle' : 'busy'})))
    await call('PATCH', `/agents/${agents[0].id}`, {name: 'renamed'})
    await call('PATCH', `/goals/${goal.goal_id}`, {status: 'completed'})
    await expectExact()

    // Deletes, one statement changing many rows, an agent's delete that empties goals' agent_id.
    await Promise.all(agents.slice(30).map((a) => call('DELETE', `/agents/${a.id}`)))
    await l01.db.exec(`UPDATE mcp_documents.agents SET status = 'active' WHERE status = 'created'`)
    await l01.db.exec(
      `UPDATE mcp_documents.tasks SET status = 'running' WHERE task_id IN (SELECT task_id FROM mcp_documents.tasks LIMIT 4)`,
    )
    await call('DELETE', `/agents/${agents[0].id}`)
    const after = await expectExact()
    expect(after).toMatchObject({'/agents/?': 29, '/agents/?status=created&': 0, '/goals/?status=completed&': 1})

    await l01.db.exec('TRUNCATE mcp_documents.tasks')
    expect((await call('GET', '/plans/tasks?limit=1')).total).toBe(0)
    await l01.db.exec(
      `INSERT INTO mcp_documents.tasks (task_id, plan_id, name) SELECT 'bulk-' || g, 'p', 'b' FROM generate_series(1, 250) g`,
    )
    expect(await expectExact()).toMatchObject({'/plans/tasks?': 250, '/plans/tasks?status=pending&': 250})
  }, 60_000)
})

/** Applies the platform's migrations before `version` to db, runs fill, then applies the rest. */
async function migrateAcross(db: Awaited<ReturnType<typeof freshDb>>, version: string, fill: () => Promise<unknown>): Promise<void> {
  const before = mkdtempSync(join(tmpdir(), 'migrations-'))
  try {
    for (const f of readdirSync(migrationsDir()).filter((f) => f < version)) cpSync(join(migrationsDir(), f), join(before, f))
    await migrate(db, {dir: before})
    await fill()
    await migrate(db, {dir: migrationsDir()})
  } finally {
    rmSync(before, {recursive: true, force: true})
  }
}

describeEachDb('L01 rows on a database that had rows before each row kept its JSON', (kind) => {
  it('renders the rows already there as the API writes them, counting none of them twice', async () => {
    const db = await freshDb(kind)
    try {
      await migrateAcross(db, '0005', () =>
        db.exec(`INSERT INTO mcp_documents.agents (did, name, metadata) SELECT 'did:old:' || g, 'old ' || g, jsonb_build_object('g', g)
          FROM generate_series(1, 30) g;
          INSERT INTO mcp_documents.tasks (task_id, plan_id, name, inputs, started_at) VALUES ('old-task', 'p', 't', '{"k": 1.5}', now())`),
      )
      const rows = await db.query<{doc: string} & Record<string, unknown>>(`SELECT * FROM mcp_documents.agents`)
      expect(rows.rows).toHaveLength(30)
      for (const r of rows.rows) expect(JSON.parse(r.doc)).toStrictEqual(nodeRendering(r))
      const task = (await db.query<{doc: string} & Record<string, unknown>>(`SELECT * FROM mcp_documents.tasks`)).rows[0]!
      expect(JSON.parse(task.doc)).toStrictEqual(nodeRendering(task))
      expect(Object.keys(JSON.parse(task.doc))).toEqual(Object.keys(nodeRendering(task)))
      const kept = await db.query<{n: string}>(`SELECT sum(n)::text AS n FROM mcp_documents.row_counts WHERE tbl = 'agents'`)
      expect(kept.rows[0]!.n).toBe('30') // rendering them again counted nothing twice
    } finally {
      await db.close()
    }
  })
})

describeEachDb('L01 list totals on a database that had rows before they were kept', (kind) => {
  it('starts the kept totals from the rows already there', async () => {
    const db = await freshDb(kind)
    try {
      await migrateAcross(db, '0004', () =>
        db.exec(`INSERT INTO mcp_documents.agents (did, name, status) SELECT 'did:old:' || g, 'old', CASE WHEN g % 3 = 0 THEN 'idle'
          ELSE 'active' END FROM generate_series(1, 30) g`),
      )
      const kept = await db.query<{status: string; n: string}>(
        `SELECT status, sum(n)::text AS n FROM mcp_documents.row_counts WHERE tbl = 'agents' GROUP BY status ORDER BY status`,
      )
      expect(kept.rows).toEqual([
        {status: 'active', n: '20'},
        {status: 'idle', n: '10'},
      ])
    } finally {
      await db.close()
    }
  })
})
