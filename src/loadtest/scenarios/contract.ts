import type {ApiResponse, Scenario, Send, UserKind, UserState} from '../scenario.js'

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

/** A task that needs one of the user's ids; with none, it sends nothing. */
function withId(ids: (u: UserState) => string[], fn: (u: UserState, id: string, send: Send) => Promise<unknown>) {
  return async (u: UserState, send: Send) => {
    const list = ids(u)
    if (list.length) await fn(u, u.rng.pick(list), send)
  }
}

const enc = encodeURIComponent

export const AGENT_USER: UserKind = {
  name: 'agent',
  weight: 5,
  tasks: [
    {
      name: 'create agent',
      weight: 5,
      run: async (u, send) => {
        const id = await createAgent(u, send)
        if (id) u.agentIds.push(id)
      },
    },
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
      ),
    },
  ],
}

const ownAgent = async (u: UserState, send: Send) => {
  u.ownAgent = await createAgent(u, send)
}

export const GOAL_USER: UserKind = {
  name: 'goal',
  weight: 3,
  onStart: ownAgent,
  tasks: [
    {
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
    },
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

export const TASK_USER: UserKind = {
  name: 'task',
  weight: 2,
  onStart: ownAgent,
  tasks: [
    {
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
    },
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
