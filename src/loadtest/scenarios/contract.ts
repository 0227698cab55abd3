import type {ApiResponse, Scenario, Send, Task, UserKind, UserState} from '../scenario.js'

/**
 * The contract's load-test scenario: three kinds of user (agent, goal, task; weights
 * 5:3:2) with their tasks, weights, payloads, on-start agents and id bookkeeping. IDs
 * are kept only from a 201. One input of the engine, which never imports it.
 */

const A = '/api/v1/agents/'
const G = '/api/v1/goals/'
const T = '/api/v1/tasks/'

export const ENDPOINTS = [
  `POST ${A}`,
  `GET ${A}`,
  `GET ${A}:id`,
  `PATCH ${A}:id`,
  `DELETE ${A}:id`,
  `POST ${G}`,
  `GET ${G}`,
  `GET ${G}:goal_id`,
  `PATCH ${G}:goal_id`,
  `POST ${T}`,
  `GET ${T}:task_id`,
  `PATCH ${T}:task_id`,
] as const

const created = (res: ApiResponse, key: string): string | undefined =>
  res.status === 201 && res.body && typeof res.body === 'object'
    ? ((res.body as Record<string, unknown>)[key] as string | undefined)
    : undefined

function agentBody(u: UserState) {
  return {
    name: `load-agent-${u.rng.int(0, 1e9)}`,
    agent_type: u.rng.pick(['simple', 'complex', 'specialized']),
    configuration: {max_tokens: u.rng.int(100, 2000), temperature: u.rng.float(0.1, 1.0)},
    metadata: {created_by: 'load_test', test_run: u.runId},
  }
}

async function createAgent(u: UserState, send: Send): Promise<string | undefined> {
  return created(await send({endpoint: `POST ${A}`, method: 'POST', path: A, body: agentBody(u)}), 'id')
}

/**
 * A task that needs one of the user's ids; with none, it sends nothing. The id is in use while
 * its request is in flight, and a delete (idle) takes one not in use where there is one: open-model
 * requests overlap, and the target could take a delete before an earlier get and answer it 404.
 */
function withId(ids: (u: UserState) => string[], fn: (u: UserState, id: string, send: Send) => Promise<unknown>, {idle = false} = {}) {
  return async (u: UserState, send: Send) => {
    const all = ids(u)
    const free = idle ? all.filter((i) => !u.inUse.has(i)) : all
    const list = free.length ? free : all
    if (!list.length) return
    const id = u.rng.pick(list)
    u.inUse.set(id, (u.inUse.get(id) ?? 0) + 1)
    try {
      await fn(u, id, send)
    } finally {
      const left = u.inUse.get(id)! - 1
      if (left) u.inUse.set(id, left)
      else u.inUse.delete(id)
    }
  }
}

const enc = encodeURIComponent

const CREATE_AGENT: Task = {
  name: 'create agent',
  weight: 5,
  run: async (u, send) => {
    const id = await createAgent(u, send)
    if (id) u.agentIds.push(id)
  },
}

/**
 * Agents an open-model run starts with. Deletes (one agent task in 21, against five creates)
 * would have to come this many times before the target answered a create to leave a get,
 * patch or delete of an agent without one.
 */
const PREPARED_AGENTS = 5

export const AGENT_USER: UserKind = {
  name: 'agent',
  weight: 5,
  prepare: async (u, send) => void (await Promise.all(Array.from({length: PREPARED_AGENTS}, () => CREATE_AGENT.run(u, send)))),
  tasks: [
    CREATE_AGENT,
    {name: 'list agents', weight: 10, run: async (_u, send) => void (await send({endpoint: `GET ${A}`, method: 'GET', path: A}))},
    {
      name: 'get agent',
      weight: 3,
      run: withId(
        (u) => u.agentIds,
        (_u, id, send) => send({endpoint: `GET ${A}:id`, method: 'GET', path: `${A}${enc(id)}`}),
      ),
    },
    {
      name: 'patch agent',
      weight: 2,
      run: withId(
        (u) => u.agentIds,
        (u, id, send) =>
          send({
            endpoint: `PATCH ${A}:id`,
            method: 'PATCH',
            path: `${A}${enc(id)}`,
            body: {status: u.rng.pick(['active', 'idle', 'busy', 'suspended']), configuration: {max_tokens: u.rng.int(100, 2000)}},
          }),
      ),
    },
    {
      name: 'delete agent',
      weight: 1,
      run: withId(
        (u) => u.agentIds,
        async (u, id, send) => {
          u.agentIds = u.agentIds.filter((a) => a !== id)
          await send({endpoint: `DELETE ${A}:id`, method: 'DELETE', path: `${A}${enc(id)}`})
        },
        {idle: true},
      ),
    },
  ],
}

const ownAgent = async (u: UserState, send: Send) => {
  u.ownAgent = await createAgent(u, send)
}

const CREATE_GOAL: Task = {
  name: 'create goal',
  weight: 5,
  run: async (u, send) => {
    const criteria = Array.from(
      {length: u.rng.int(1, 3)},
      (_, i) => `criterion ${i + 1}: ${u.rng.pick(['accuracy', 'latency', 'coverage', 'cost'])}`,
    )
    const body = {
      ...(u.ownAgent ? {agent_id: u.ownAgent} : {}),
      description: `load goal ${u.rng.int(0, 1e9)}`,
      success_criteria: criteria,
      priority: u.rng.int(1, 10),
    }
    const id = created(await send({endpoint: `POST ${G}`, method: 'POST', path: G, body}), 'goal_id')
    if (id) u.goalIds.push(id)
  },
}

export const GOAL_USER: UserKind = {
  name: 'goal',
  weight: 3,
  onStart: ownAgent,
  prepare: CREATE_GOAL.run,
  tasks: [
    CREATE_GOAL,
    {name: 'list goals', weight: 10, run: async (_u, send) => void (await send({endpoint: `GET ${G}`, method: 'GET', path: G}))},
    {
      name: 'get goal',
      weight: 3,
      run: withId(
        (u) => u.goalIds,
        (_u, id, send) => send({endpoint: `GET ${G}:goal_id`, method: 'GET', path: `${G}${enc(id)}`}),
      ),
    },
    {
      name: 'patch goal',
      weight: 2,
      run: withId(
        (u) => u.goalIds,
        (u, id, send) =>
          send({
            endpoint: `PATCH ${G}:goal_id`,
            method: 'PATCH',
            path: `${G}${enc(id)}`,
            body: {status: u.rng.pick(['pending', 'in_progress', 'completed', 'failed']), priority: u.rng.int(1, 10)},
          }),
      ),
    },
  ],
}

const CREATE_TASK: Task = {
  name: 'create task',
  weight: 5,
  run: async (u, send) => {
    const body = {
      plan_id: u.rng.uuid(),
      ...(u.ownAgent ? {agent_id: u.ownAgent} : {}),
      description: `load task ${u.rng.int(0, 1e9)}`,
      task_type: u.rng.pick(['analysis', 'generation', 'execution']),
      input_data: {content: `input ${u.rng.int(0, 1e6)}`, parameters: {priority: u.rng.int(1, 10)}},
    }
    const id = created(await send({endpoint: `POST ${T}`, method: 'POST', path: T, body}), 'task_id')
    if (id) u.taskIds.push(id)
  },
}

export const TASK_USER: UserKind = {
  name: 'task',
  weight: 2,
  onStart: ownAgent,
  prepare: CREATE_TASK.run,
  tasks: [
    CREATE_TASK,
    {
      name: 'get task',
      weight: 10,
      run: withId(
        (u) => u.taskIds,
        (_u, id, send) => send({endpoint: `GET ${T}:task_id`, method: 'GET', path: `${T}${enc(id)}`}),
      ),
    },
    {
      name: 'patch task',
      weight: 2,
      run: withId(
        (u) => u.taskIds,
        (u, id, send) =>
          send({
            endpoint: `PATCH ${T}:task_id`,
            method: 'PATCH',
            path: `${T}${enc(id)}`,
            body: {
              status: u.rng.pick(['pending', 'running', 'completed', 'failed']),
              output_data: {result: `result ${u.rng.int(0, 1e6)}`, timestamp: new Date().toISOString()},
            },
          }),
      ),
    },
  ],
}

export const USER_KINDS: readonly UserKind[] = [AGENT_USER, GOAL_USER, TASK_USER]

/** Think time between a user's tasks: 1 to 3 s. */
export const THINK_MS = {min: 1000, max: 3000} as const

const contract: Scenario = {name: 'contract', module: import.meta.url, kinds: USER_KINDS, thinkMs: THINK_MS, endpoints: ENDPOINTS}
export default contract
