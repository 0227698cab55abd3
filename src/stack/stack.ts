import {PlatformError, apiKeyPath, pollUntil, type PlatformConfig, type PlatformStatus, type ServiceStatus} from '../core/index.js'
import {stageBuildContext} from './build.js'
import type {Compose} from './compose.js'
import {PROJECT, readServices, type ServiceSpec} from './composefile.js'
import {describeOwner, judge, portOwner, projectContainers, type LifecycleDeps} from './container.js'
import type {ContainerDetail, Engine} from './engine.js'

export interface StackDeps extends LifecycleDeps {
  config: PlatformConfig
  compose: Compose
  /** the environment compose runs with (composeEnv): keys, build context, overrides */
  env: NodeJS.ProcessEnv
  log: (line: string) => void
}

export interface Step {
  title: string
  // biome-ignore lint/suspicious/noConfusingVoidType: most steps return nothing, some a note to print
  run: () => Promise<string | void>
}

/**
 * Before anything starts: Docker answers, and every host port of the stack is free or
 * already held by the platform's own container for that service.
 */
export async function preflight(deps: StackDeps, services: ServiceSpec[]): Promise<void> {
  await deps.engine.ping()
  const own = await projectContainers(deps.engine)
  const problems: string[] = []
  for (const s of services) {
    for (const p of s.ports) {
      const owner = await portOwner(deps.engine, p.host)
      if (!owner || (owner.container && own.get(s.name)?.id === owner.container.id)) continue
      problems.push(`port ${p.host} (${s.name}) is held by ${describeOwner(owner)}`)
    }
  }
  if (problems.length) {
    throw new PlatformError('PORT_IN_USE', `cannot start the stack: ${problems.join('; ')}`, {
      suggestion: 'stop what holds the port, set another host port (e.g. L09_HOST_PORT=18009), or run `platform stack doctor`',
    })
  }
}

/** What status shows: not running is unhealthy; a container without a healthcheck is as healthy as running. */
function healthOf(c: ContainerDetail): ServiceStatus['health'] {
  if (c.state !== 'running') return 'unhealthy'
  return c.health ?? 'healthy'
}

/** Waits until every service's container is healthy by the lifecycle's rule (judge), polling every 500 ms. */
export async function waitHealthy(
  deps: StackDeps,
  services: ServiceSpec[],
  timeoutMs: number,
  onReady?: (service: string) => void,
): Promise<void> {
  const pending = new Set(services.map((s) => s.name))
  const last = new Map<string, ContainerDetail>()
  const failed = await pollUntil(
    async () => {
      const containers = await projectContainers(deps.engine)
      for (const name of [...pending]) {
        const c = containers.get(name)
        if (!c) continue
        const d = await deps.engine.inspect(c.id)
        last.set(name, d)
        const verdict = await judge(deps, d)
        if (verdict.status === 'failed') return {name, d}
        if (verdict.status === 'healthy') {
          pending.delete(name)
          onReady?.(name)
        }
      }
      return pending.size ? undefined : null
    },
    {timeoutMs, everyMs: 500, clock: deps.clock},
  )
  if (failed) throw await unhealthy(deps, failed.name, failed.d)
  if (failed === null) return
  const name = [...pending][0]!
  const d = last.get(name)
  if (d) throw await unhealthy(deps, name, d, timeoutMs)
  throw new PlatformError('CHECK_FAILED', `${name} has no container after ${timeoutMs / 1000} s`)
}

async function unhealthy(deps: StackDeps, name: string, d: ContainerDetail, timeoutMs?: number): Promise<PlatformError> {
  const logs = await deps.engine.logs(d.id, {tail: 15}).catch(() => '')
  const why = timeoutMs ? `not healthy after ${timeoutMs / 1000} s` : `is ${d.state}${d.health ? `, ${d.health}` : ''}`
  const check = d.healthLog ? `; last healthcheck: ${d.healthLog}` : ''
  return new PlatformError('CHECK_FAILED', `${name} (${d.name}) ${why}${check}\n--- last log lines ---\n${logs.trimEnd()}`, {
    suggestion: `see \`platform logs ${name}\`; fix it, then run \`platform up --docker\` again`,
  })
}

/** Builds the platform's image when it is missing (or when asked): staged offline, built by compose. */
export function imageStep(deps: StackDeps, app: ServiceSpec | undefined, build?: boolean): Step {
  return {
    title: `Image ${app?.image ?? 'of the platform'}`,
    run: async () => {
      if (!app || (!build && (await deps.engine.imageId(app.image)))) return 'present'
      await stageBuildContext(deps.config)
      await deps.compose.run(['build', app.name], {onLine: deps.log})
      return 'built'
    },
  }
}

/** `db migrate` inside a running L01 container: migrations apply once, under the advisory lock, however many replicas run. */
export async function migrateIn(engine: Engine, l01: {id: string; name: string}): Promise<string> {
  const r = await engine.exec(l01.id, ['node', '/app/bin/run.js', 'db', 'migrate', '--json'])
  if (r.exitCode !== 0) throw new PlatformError('MIGRATION_FAILED', `db migrate in ${l01.name} failed:\n${r.output.trim()}`)
  const applied = (JSON.parse(r.output.slice(r.output.indexOf('{'))) as {applied: string[]}).applied
  return applied.length ? `applied ${applied.join(', ')}` : 'up to date'
}

export interface UpOptions {
  build?: boolean
  timeoutMs?: number
  onReady?: (service: string) => void
}

/** The steps of `up --docker`, for the command's task list. */
export function upSteps(deps: StackDeps, opts: UpOptions = {}): Step[] {
  const services = readServices(deps.env)
  const app = services.find((s) => s.build)
  return [
    {title: 'Docker reachable, ports free', run: () => preflight(deps, services)},
    imageStep(deps, app, opts.build),
    {title: `${deps.compose.flavour} up -d`, run: () => deps.compose.run(['up', '-d', '--no-build'], {onLine: deps.log})},
    {title: 'Every service healthy', run: () => waitHealthy(deps, services, opts.timeoutMs ?? 180_000, opts.onReady)},
    {
      title: 'Migrations applied (under the advisory lock)',
      run: async () => {
        const l01 = (await projectContainers(deps.engine)).get('l01-data-layer')
        return l01 ? migrateIn(deps.engine, l01) : 'no l01-data-layer container'
      },
    },
  ]
}

export async function stackDown(deps: StackDeps, opts: {volumes?: boolean} = {}): Promise<{removed: string[]}> {
  await deps.engine.ping()
  const before = [...(await projectContainers(deps.engine)).values()].map((c) => c.name)
  await deps.compose.run(['down', ...(opts.volumes ? ['--volumes'] : [])], {onLine: deps.log})
  return {removed: before}
}

/** Whether the platform project has any container (for commands that guess the mode). */
export async function stackExists(engine: Engine): Promise<boolean> {
  try {
    return (await engine.containers({project: PROJECT})).length > 0
  } catch {
    return false
  }
}

export async function stackStatus(deps: StackDeps): Promise<PlatformStatus> {
  await deps.engine.ping()
  const specs = readServices(deps.env)
  const containers = await projectContainers(deps.engine)
  const now = deps.clock?.now ?? Date.now
  const services: ServiceStatus[] = []
  for (const spec of specs) {
    const c = containers.get(spec.name)
    if (!c) {
      services.push({name: spec.name, state: 'absent', health: 'unknown', image: spec.image})
      continue
    }
    const d = await deps.engine.inspect(c.id)
    const port = d.ports.find((p) => spec.ports.some((sp) => sp.container === p.container))
    services.push({
      name: spec.name,
      // HTTP services get a URL; PostgreSQL's port is listed under ports.
      ...(port && spec.name !== 'postgres' ? {url: `http://127.0.0.1:${port.host}`} : {}),
      state: d.state,
      health: healthOf(d),
      ...(d.healthLog && d.health !== 'healthy' ? {detail: d.healthLog} : {}),
      ...(d.startedAt ? {uptimeSeconds: Math.max(0, Math.round((now() - Date.parse(d.startedAt)) / 1000))} : {}),
      container: d.name,
      project: d.project,
      image: d.image,
      ports: d.ports.map((p) => `${p.ip && p.ip !== '0.0.0.0' ? `${p.ip}:` : ''}${p.host}->${p.container}`),
    })
  }
  const running = services.some((s) => s.state === 'running')
  const pg = services.find((s) => s.name === 'postgres')
  const database = pg?.container ? `postgres container ${pg.container}` : undefined
  return {mode: 'docker', running, database, apiKeyFile: apiKeyPath(deps.config), services}
}

/** Log text of one service, or all (prefixed with the service name). Follows when onData is given. */
export async function stackLogs(
  deps: StackDeps,
  service: string | undefined,
  opts: {since?: number; tail?: number; follow?: (chunk: string) => void},
): Promise<string | (() => void)> {
  await deps.engine.ping()
  const containers = await projectContainers(deps.engine)
  const names = service ? [service] : [...containers.keys()].sort()
  const missing = names.filter((n) => !containers.has(n))
  if (missing.length) {
    const known = readServices(deps.env).map((s) => s.name)
    throw new PlatformError('NOT_FOUND', `no container for ${missing.join(', ')} in project ${PROJECT}`, {
      suggestion: known.includes(missing[0]!) ? 'start the stack with `platform up --docker`' : `services: ${known.join(', ')}`,
    })
  }
  const prefix = (name: string, text: string) => (names.length > 1 ? text.replace(/^(?=.)/gm, `${name.padEnd(16)}| `) : text)
  if (opts.follow) {
    const range = {since: opts.since, tail: opts.tail}
    const follow = (n: string) => deps.engine.follow(containers.get(n)!.id, (chunk) => opts.follow!(prefix(n, chunk)), range)
    const stops = await Promise.all(names.map(follow))
    return () => {
      for (const s of stops) s()
    }
  }
  const range = {since: opts.since, tail: opts.tail}
  const parts = await Promise.all(names.map(async (n) => prefix(n, await deps.engine.logs(containers.get(n)!.id, range))))
  return parts.join('')
}

/** stackExists for a guess: false when Docker is not there at all. */
export async function stackExistsAt(env: NodeJS.ProcessEnv): Promise<boolean> {
  const {createEngine} = await import('./engine.js')
  return stackExists(await createEngine(env))
}

/**
 * The base URL of the stack's gateway: the service whose command is `serve gateway`, at the host
 * port its container publishes; undefined when it is not running.
 */
export async function gatewayUrl(deps: Pick<StackDeps, 'engine' | 'env'>): Promise<string | undefined> {
  const spec = readServices(deps.env).find((s) => s.command[0] === 'serve' && s.command[1] === 'gateway')
  const c = spec && (await projectContainers(deps.engine)).get(spec.name)
  if (!spec || !c || c.state !== 'running') return undefined
  const port = (await deps.engine.inspect(c.id)).ports.find((p) => spec.ports.some((sp) => sp.container === p.container))
  return port && `http://127.0.0.1:${port.host}`
}
