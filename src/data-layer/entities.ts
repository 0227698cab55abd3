import {randomBytes, randomUUID} from 'node:crypto'
import {PlatformError} from '../core/index.js'
import {raw, type ColumnKind, type TableSpec, type Values} from './table.js'

export const AGENT_STATUSES = ['created', 'active', 'idle', 'busy', 'suspended', 'terminated', 'error'] as const
export const GOAL_STATUSES = ['pending', 'active', 'in_progress', 'completed', 'failed', 'cancelled'] as const
export const PLAN_STATUSES = ['draft', 'active', 'completed', 'failed', 'cancelled'] as const
export const TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'blocked', 'skipped'] as const

type Body = Record<string, unknown>

// Schema pieces. Bodies are validated without coercion; unknown fields pass and are ignored.
const text = (max = 10_000) => ({type: 'string', maxLength: max})
const name = {type: 'string', minLength: 1, maxLength: 255}
const id = {type: 'string', minLength: 1, maxLength: 255}
const uuid = {type: 'string', format: 'uuid'}
const nullable = (s: object) => ({anyOf: [s, {type: 'null'}]})
const object = {type: 'object'}
const array = {type: 'array'}
const json = {type: ['object', 'array']}
const oneOf = (values: readonly string[]) => ({type: 'string', enum: values})
const body = (properties: Record<string, object>, required: string[] = []) => ({type: 'object', properties, required})
/** A patch body: every field but the key, none required. */
const patchBody = (properties: Record<string, object>, key: string) =>
  body(Object.fromEntries(Object.entries(properties).filter(([f]) => f !== key)))

export const uuidParam = uuid
export const idParam = id
export const listQuery = (filters: Record<string, object>) => ({
  type: 'object',
  properties: {
    count: {type: 'string', enum: ['exact']},
    limit: {type: 'integer', minimum: 1, maximum: 1000, default: 100},
    // Past 2^53 a number is no longer exact, and PostgreSQL refuses it beyond bigint.
    offset: {type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0},
    ...filters,
  },
})

export interface Entity {
  spec: TableSpec
  /** JSON schemas for the create and patch bodies, and for the list filters. */
  createSchema: object
  patchSchema: object
  filters: Record<string, object>
  /** The row to insert for a valid create body. */
  toInsert(b: Body): Values
  /** The columns a valid patch body sets (empty when it names none). */
  toUpdate(b: Body): Values
}

/** Copies the named fields that the body has. */
function pick(b: Body, fields: readonly string[]): Values {
  const out: Values = {}
  for (const f of fields) if (b[f] !== undefined) out[f] = b[f]
  return out
}

/** The first of several alias fields that the body sets. */
const firstOf = (b: Body, ...fields: string[]): unknown => fields.map((f) => b[f]).find((v) => v !== undefined)

function didFor(agentName: string): string {
  const slug =
    agentName
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 64) || 'agent'
  return `did:agent:${slug}:${randomBytes(4).toString('hex')}`
}

/** Columns in table order, the JSONB ones marked `:jsonb`. */
const columns = (spec: string): Record<string, ColumnKind> =>
  Object.fromEntries(spec.split(/\s+/).map((c) => (c.endsWith(':jsonb') ? [c.slice(0, -6), 'jsonb'] : [c, 'value'])))

const agentFields = {
  name,
  agent_type: name,
  status: oneOf(AGENT_STATUSES),
  configuration: object,
  metadata: object,
  resource_limits: object,
}
const AGENT_UPDATABLE = Object.keys(agentFields)

export const agents: Entity = {
  spec: {
    name: 'agents',
    key: 'id',
    columns: columns('id did name agent_type status configuration:jsonb metadata:jsonb resource_limits:jsonb created_at updated_at'),
  },
  createSchema: body(agentFields, ['name']),
  patchSchema: body(agentFields),
  filters: {status: oneOf(AGENT_STATUSES)},
  toInsert: (b) => ({...pick(b, AGENT_UPDATABLE), did: didFor(b.name as string)}),
  toUpdate: (b) => pick(b, AGENT_UPDATABLE),
}

const goalFields = {
  goal_id: id,
  agent_id: nullable(uuid),
  agent_did: nullable(text(255)),
  goal_text: {type: 'string', minLength: 1, maxLength: 100_000},
  description: {type: 'string', minLength: 1, maxLength: 100_000},
  goal_type: name,
  status: oneOf(GOAL_STATUSES),
  priority: {type: 'integer', minimum: 1, maximum: 10},
  success_criteria: array,
  metadata: object,
  parent_goal_id: nullable(id),
  decomposition_strategy: nullable(text(255)),
}
const GOAL_COLUMNS = [
  'agent_id',
  'agent_did',
  'goal_type',
  'status',
  'priority',
  'success_criteria',
  'metadata',
  'parent_goal_id',
  'decomposition_strategy',
]

export const goals: Entity = {
  spec: {
    name: 'goals',
    key: 'goal_id',
    columns: columns(
      'goal_id agent_id agent_did goal_text goal_type status priority success_criteria:jsonb metadata:jsonb parent_goal_id ' +
        'decomposition_strategy created_at updated_at',
    ),
  },
  createSchema: body(goalFields),
  patchSchema: patchBody(goalFields, 'goal_id'),
  filters: {agent_id: uuid, status: oneOf(GOAL_STATUSES)},
  toInsert(b) {
    const goalText = firstOf(b, 'goal_text', 'description')
    if (goalText === undefined) {
      throw new PlatformError('VALIDATION_FAILED', 'goal_text is required (or description)', {
        details: [{field: 'goal_text', message: 'is required (or description)'}],
      })
    }
    const row: Values = {goal_id: b.goal_id ?? randomUUID(), ...pick(b, GOAL_COLUMNS), goal_text: goalText}
    if (row.agent_did == null && row.agent_id) row.agent_did = `agent-${row.agent_id}`
    return row
  },
  toUpdate(b) {
    const row = pick(b, GOAL_COLUMNS)
    const goalText = firstOf(b, 'goal_text', 'description')
    if (goalText !== undefined) row.goal_text = goalText
    return row
  },
}

const planFields = {
  plan_id: id,
  goal_id: nullable(id),
  agent_id: nullable(uuid),
  status: oneOf(PLAN_STATUSES),
  tasks: array,
  dependency_graph: json,
  metadata: object,
}
const PLAN_COLUMNS = ['goal_id', 'agent_id', 'status', 'tasks', 'dependency_graph', 'metadata']

export const plans: Entity = {
  spec: {
    name: 'plans',
    key: 'plan_id',
    columns: columns('plan_id goal_id agent_id status tasks:jsonb dependency_graph:jsonb metadata:jsonb created_at updated_at'),
  },
  createSchema: body(planFields),
  patchSchema: patchBody(planFields, 'plan_id'),
  filters: {goal_id: id, agent_id: uuid, status: oneOf(PLAN_STATUSES)},
  toInsert: (b) => ({plan_id: b.plan_id ?? randomUUID(), ...pick(b, PLAN_COLUMNS)}),
  toUpdate: (b) => pick(b, PLAN_COLUMNS),
}

const taskFields = {
  task_id: id,
  plan_id: id,
  agent_id: nullable(uuid),
  name,
  description: text(100_000),
  task_type: name,
  status: oneOf(TASK_STATUSES),
  inputs: object,
  input_data: object,
  outputs: object,
  output_data: object,
  metadata: object,
  error: nullable(text(100_000)),
}
const TASK_COLUMNS = ['plan_id', 'agent_id', 'name', 'description', 'task_type', 'status', 'metadata', 'error']

/** The task's JSONB aliases and its status timestamps. */
function taskValues(b: Body): Values {
  const row = pick(b, TASK_COLUMNS)
  const inputs = firstOf(b, 'inputs', 'input_data')
  const outputs = firstOf(b, 'outputs', 'output_data')
  if (inputs !== undefined) row.inputs = inputs
  if (outputs !== undefined) row.outputs = outputs
  // started_at is set the first time the status becomes running; completed_at each time it
  // moves into completed or failed (the old status is what `status` reads inside UPDATE).
  if (b.status === 'running') row.started_at = raw('COALESCE(started_at, now())')
  if (b.status === 'completed' || b.status === 'failed') {
    row.completed_at = raw(`CASE WHEN status IN ('completed', 'failed') AND completed_at IS NOT NULL THEN completed_at ELSE now() END`)
  }
  return row
}

export const tasks: Entity = {
  spec: {
    name: 'tasks',
    key: 'task_id',
    columns: columns(
      'task_id plan_id agent_id name description task_type status inputs:jsonb outputs:jsonb metadata:jsonb error created_at updated_at ' +
        'started_at completed_at',
    ),
  },
  createSchema: body(taskFields, ['plan_id']),
  patchSchema: patchBody(taskFields, 'task_id'),
  filters: {plan_id: id, agent_id: uuid, status: oneOf(TASK_STATUSES)},
  toInsert(b) {
    const row = taskValues(b)
    // On insert there is no old row: the timestamps are simply now.
    if (row.started_at) row.started_at = raw('now()')
    if (row.completed_at) row.completed_at = raw('now()')
    const description = typeof b.description === 'string' ? b.description : ''
    return {
      task_id: b.task_id ?? randomUUID(),
      ...row,
      name: b.name ?? (description ? Array.from(description).slice(0, 50).join('') : 'Unnamed task'),
    }
  },
  toUpdate: taskValues,
}
