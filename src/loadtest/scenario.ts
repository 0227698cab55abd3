import type {Rng} from './random.js'

/**
 * What the engine knows of a scenario: kinds of user, each with a weight, an optional
 * on-start step and weighted tasks, and the think time between a user's tasks. The engine
 * runs any scenario of this shape; the contract's is one (scenarios/contract.ts).
 */

export interface ApiRequest {
  /** method + route template, the key of every statistic */
  endpoint: string
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  body?: unknown
}

export interface ApiResponse {
  /** HTTP status, or null when no answer came (connection error, timeout) */
  status: number | null
  body?: unknown
}

export type Send = (req: ApiRequest) => Promise<ApiResponse>

/** What one virtual user remembers between its requests. */
export class UserState {
  agentIds: string[] = []
  goalIds: string[] = []
  taskIds: string[] = []
  /** The agent a user created on start. */
  ownAgent?: string
  /** Ids that requests in flight use, with how many use each. */
  readonly inUse = new Map<string, number>()
  started = false
  constructor(
    readonly kind: UserKind,
    readonly rng: Rng,
    readonly runId: string,
  ) {}

  /** This user drawing from rng instead (an open-model arrival's own); whatever else is read or written is this user's. */
  drawingFrom(rng: Rng): UserState {
    return new Proxy(this, {get: (user, key) => (key === 'rng' ? rng : Reflect.get(user, key))})
  }
}

export interface Task {
  name: string
  weight: number
  /** Sends this task's request (or none, when it needs an id the user does not have). */
  run(u: UserState, send: Send): Promise<void>
}

export interface UserKind {
  name: string
  weight: number
  onStart?(u: UserState, send: Send): Promise<void>
  /**
   * Open model only: what the kind's user makes after its on-start and before the first
   * arrival (unrecorded), so that every task has the ids it needs from the start (see prepare).
   */
  prepare?(u: UserState, send: Send): Promise<void>
  tasks: Task[]
}

export interface Scenario {
  name: string
  /**
   * The URL of a module whose default export is this scenario (its own import.meta.url):
   * generator threads load the scenario from there, since functions cannot be posted to them.
   */
  module: string
  kinds: readonly UserKind[]
  /** Think time between a user's tasks, ms. */
  thinkMs: {min: number; max: number}
  /** Every endpoint the kinds send to: the scopes thresholds may name. */
  endpoints: readonly string[]
}

/** The scenario a module exports by default, or a clear error naming the module. */
export async function loadScenario(module: string): Promise<Scenario> {
  const s = ((await import(module)) as {default?: Partial<Scenario>}).default
  if (!s || !Array.isArray(s.kinds) || !s.kinds.length || !s.thinkMs || !Array.isArray(s.endpoints)) {
    throw new Error(`${module} does not export a scenario (kinds, thinkMs, endpoints) as its default`)
  }
  return s as Scenario
}

/**
 * One step of a user: its on-start work the first time, then one task chosen by weight.
 * With oneRequest (open model: one arrival, one request) the on-start work is the step.
 */
export async function step(u: UserState, send: Send, oneRequest = false): Promise<void> {
  if (!u.started) {
    u.started = true
    if (u.kind.onStart) {
      await u.kind.onStart(u, send)
      if (oneRequest) return
    }
  }
  await u.rng.weighted(u.kind.tasks).run(u, send)
}

/**
 * Before an open-model run: the user's on-start and its kind's prepare. Arrivals overlap and
 * must not wait for each other, so an arrival whose task needs an id uses one its kind already
 * has; made here, those ids exist before the first arrival, whatever the target's latency.
 */
export async function prepare(u: UserState, send: Send): Promise<void> {
  u.started = true
  await u.kind.onStart?.(u, send)
  await u.kind.prepare?.(u, send)
}

const patterns = new WeakMap<readonly UserKind[], number[]>()

/**
 * The kind of the i-th user. Every sum-of-weights consecutive users hold exactly each kind's
 * weight of users, interleaved (smooth weighted round robin): with 5:3:2, any ten users are
 * 5, 3 and 2, and a run of few users still gets every kind early.
 */
export function kindOf(kinds: readonly UserKind[], i: number): UserKind {
  let pattern = patterns.get(kinds)
  if (!pattern) {
    const total = kinds.reduce((s, k) => s + k.weight, 0)
    const current = kinds.map(() => 0)
    pattern = Array.from({length: total}, () => {
      kinds.forEach((k, j) => {
        current[j]! += k.weight
      })
      const pick = current.indexOf(Math.max(...current))
      current[pick]! -= total
      return pick
    })
    patterns.set(kinds, pattern)
  }
  return kinds[pattern[i % pattern.length]!]!
}
