import {join} from 'node:path'
import {
  PlatformError,
  acquireLock,
  isPlatformError,
  pollUntil,
  portFree,
  portHolder,
  probeReady,
  type Clock,
  type HealthProbe,
  type PlatformConfig,
} from '../core/index.js'
import {PROJECT} from './composefile.js'
import type {ContainerDetail, ContainerSummary, Engine} from './engine.js'

/** What the container lifecycle needs: the engine, and (for tests) the clock and the health probe. */
export interface LifecycleDeps {
  engine: Engine
  clock?: Clock
  probe?: HealthProbe
  log?: (line: string) => void
}

/**
 * Whether a container is an instance of service. Compose labels decide when there are any; else
 * the name (project_service_1, project-service-1, service). A Swarm task (label
 * com.docker.swarm.service.name) is one more rule here.
 */
export function isInstanceOf(c: ContainerSummary, service: string): boolean {
  if (c.service) return c.service === service
  return new RegExp(`(^|[_-])${service.replace(/[-]/g, '[-_]')}([_-]\\d+)?$`).test(c.name)
}

/** The project's containers by compose service (the newest when there are several). */
export async function projectContainers(engine: Engine, project = PROJECT): Promise<Map<string, ContainerSummary>> {
  const byService = new Map<string, ContainerSummary>()
  for (const c of await engine.containers({project})) {
    if (!c.service) continue
    const seen = byService.get(c.service)
    if (!seen || c.created > seen.created) byService.set(c.service, c)
  }
  return byService
}

/** The newest container of service, in any state: the platform project's, or with force another project's. */
export async function findServiceContainer(engine: Engine, service: string, force = false): Promise<ContainerDetail> {
  const all = (await engine.containers({all: true})).filter((c) => isInstanceOf(c, service)).sort((a, b) => b.created - a.created)
  const own = all.find((c) => c.project === PROJECT)
  const other = all.find((c) => c.project !== PROJECT)
  const chosen = own ?? (force ? other : undefined)
  if (!chosen) {
    if (other) {
      const where = other.project ? `compose project ${other.project}` : 'no compose project'
      throw new PlatformError('USAGE', `${service} runs only in ${where} (container ${other.name})`, {
        suggestion: `patch it anyway with --force, or move it first: platform stack relocate ${service}`,
      })
    }
    throw new PlatformError('NOT_FOUND', `no container runs ${service}`, {suggestion: 'start the stack with `platform up --docker`'})
  }
  return engine.inspect(chosen.id)
}

export function mustRun(d: ContainerDetail, service: string): ContainerDetail {
  if (d.state !== 'running') {
    throw new PlatformError('CHECK_FAILED', `container ${d.name} of ${service} is ${d.state}: a patch needs a running container`, {
      suggestion: `start it first (docker start ${d.name}) or recreate it with platform up --docker`,
    })
  }
  return d
}

export const containerLockPath = (config: PlatformConfig, id: string): string => join(config.stateDir, 'locks', `container-${id}.lock`)

/**
 * Runs fn holding the container's lock, so that two changes of one container never
 * interleave; waits for a lock another process holds. fn gets the container as it is under
 * the lock: whoever held it may have been restarting it, so only its state now counts.
 */
export async function withContainerLock<T>(
  deps: LifecycleDeps & {config: PlatformConfig},
  c: {id: string; name: string},
  fn: (d: ContainerDetail) => Promise<T>,
  timeoutMs = 120_000,
): Promise<T> {
  let refusal: unknown
  const release = await pollUntil(
    () => {
      try {
        return acquireLock(containerLockPath(deps.config, c.id), `container ${c.name}`, 'LOCKED')
      } catch (err) {
        if (!isPlatformError(err, 'LOCKED')) throw err
        refusal = err
        deps.log?.(`waiting: ${err.message}`)
        return undefined
      }
    },
    {timeoutMs, everyMs: 500, clock: deps.clock},
  )
  if (!release) throw refusal
  try {
    return await fn(await deps.engine.inspect(c.id))
  } finally {
    release()
  }
}

export type Verdict = {status: 'healthy'} | {status: 'failed'; reason: string} | {status: 'pending'; reason: string}

/** A container without a healthcheck or a port counts as healthy once it has run this long. */
export const STEADY_MS = 3000

/**
 * One look at a container since its last (re)start. Healthy by its Docker healthcheck; else its
 * health route answering short of a server error (the route may not be the platform's); else
 * running for STEADY_MS. Docker may still show the health of before the restart: only a check
 * made since counts.
 */
export async function judge(deps: LifecycleDeps, d: ContainerDetail): Promise<Verdict> {
  if (d.state === 'exited' || d.state === 'dead') return {status: 'failed', reason: `the container ${d.state} after the restart`}
  if (d.state !== 'running') return {status: 'pending', reason: `it is ${d.state}`}
  const fresh = Boolean(d.healthCheckedAt && d.startedAt && Date.parse(d.healthCheckedAt) > Date.parse(d.startedAt))
  if (d.health) {
    if (fresh && d.health === 'healthy') return {status: 'healthy'}
    if (fresh && d.health === 'unhealthy') return {status: 'failed', reason: `its healthcheck fails: ${d.healthLog || 'unhealthy'}`}
    return {status: 'pending', reason: fresh ? `health ${d.health}` : 'no healthcheck since the restart'}
  }
  const port = d.ports[0]
  if (port) {
    const r = await (deps.probe ?? probeReady)(`http://127.0.0.1:${port.host}`)
    if (r.status !== undefined && r.status < 500) return {status: 'healthy'}
    const reason = r.status === undefined ? `its port ${port.host} does not answer (${r.detail})` : `its health route answers ${r.status}`
    return {status: 'pending', reason}
  }
  const now = (deps.clock?.now ?? Date.now)()
  if (d.startedAt && now - Date.parse(d.startedAt) >= STEADY_MS) return {status: 'healthy'}
  return {status: 'pending', reason: 'running, not yet for long'}
}

/** Waits until the container is healthy (judge); resolves with the reason when it is not, else undefined. */
export async function waitContainerHealthy(deps: LifecycleDeps, id: string, timeoutMs: number, everyMs = 250): Promise<string | undefined> {
  let last = ''
  const verdict = await pollUntil(
    async () => {
      const v = await judge(deps, await deps.engine.inspect(id))
      if (v.status !== 'pending') return v
      last = v.reason
      return undefined
    },
    {timeoutMs, everyMs, clock: deps.clock},
  )
  if (!verdict) return `not healthy within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last})` : ''}`
  return verdict.status === 'failed' ? verdict.reason : undefined
}

/** Restarts the container and waits until it is healthy again, counting only what happened since the restart. */
export async function restartAndWait(deps: LifecycleDeps, id: string, timeoutMs: number): Promise<string | undefined> {
  await deps.engine.restart(id)
  return waitContainerHealthy(deps, id, timeoutMs)
}

export interface PortOwner {
  container?: ContainerSummary
  process?: string
}

/** Who holds a host port: a running container (with its project), else a process on this machine, else nobody. */
export async function portOwner(engine: Engine, port: number, containers?: ContainerSummary[]): Promise<PortOwner | undefined> {
  const running = (containers ?? (await engine.containers({all: false}))).filter((c) => c.state === 'running')
  const container = running.find((c) => c.ports.some((p) => p.host === port))
  if (container) return {container}
  if (await portFree(port, '127.0.0.1')) return undefined
  return {process: portHolder(port) ?? 'another process'}
}

export const describeOwner = (o: PortOwner): string =>
  o.container ? `container ${o.container.name}${o.container.project ? ` of compose project ${o.container.project}` : ''}` : o.process!
