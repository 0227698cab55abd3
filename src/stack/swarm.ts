import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {
  PlatformError,
  apiKeyPath,
  gatewayKeys,
  internalKey,
  pollUntil,
  readOrCreateKey,
  type PlatformConfig,
  type PlatformStatus,
  type ServiceStatus,
} from '../core/index.js'
import type {Compose} from './compose.js'
import {composeFile, readServices} from './composefile.js'
import type {ContainerSummary} from './engine.js'
import {imageStep, migrateIn, type StackDeps, type Step} from './stack.js'
import {POSTGRES_NODE_LABEL, STACK, renderStackFile, swarmPrometheusConfig, type SecretName} from './stackfile.js'
import type {SwarmEngine, SwarmService, SwarmTask} from './swarm-engine.js'

export interface SwarmDeps extends StackDeps {
  swarm: SwarmEngine
  /** the docker CLI, for `docker stack deploy` / `docker stack rm` (the compose-to-services translation is the CLI's) */
  docker: Compose
}

export interface SwarmUpOptions {
  /** make this engine a single-node swarm when it is in none */
  init?: boolean
  /** HOST:PORT of a registry every node reaches: the app image is pushed there and deployed from there */
  registry?: string
  replicas?: Record<string, number>
  build?: boolean
  timeoutMs?: number
}

export const swarmDir = (config: PlatformConfig): string => join(config.stateDir, 'swarm')

/** A file only its owner reads (secrets, and the stack file that names them). */
function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, {mode: 0o600})
  chmodSync(path, 0o600)
}

/**
 * The values that become Docker secrets, each also kept as a 0600 file under .platform/swarm/secrets
 * (`docker stack deploy` reads them from there). PostgreSQL's password is generated once and kept.
 */
export function stackSecrets(config: PlatformConfig, env: NodeJS.ProcessEnv): Record<SecretName, {file: string; value: string}> {
  const dir = join(swarmDir(config), 'secrets')
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const password = readOrCreateKey(join(dir, 'postgres_password'))
  const values: Record<SecretName, string> = {
    l01_api_key: internalKey(config, env),
    gateway_api_keys: gatewayKeys(config, env).join(','),
    postgres_password: password,
    database_url: `postgresql://platform:${encodeURIComponent(password)}@postgres:5432/platform`,
  }
  const out = {} as Record<SecretName, {file: string; value: string}>
  for (const [name, value] of Object.entries(values) as Array<[SecretName, string]>) {
    const file = join(dir, name)
    writePrivate(file, `${value}\n`)
    out[name] = {file, value}
  }
  return out
}

/** Writes the stack file (and Prometheus' swarm configuration) under .platform/swarm; returns its path. */
export function writeStackFile(deps: SwarmDeps, replicas: Record<string, number> = {}, appImage?: string): string {
  const dir = swarmDir(deps.config)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const prometheus = swarmPrometheusConfig()
  const prometheusFile = join(dir, 'prometheus.yml')
  writeFileSync(prometheusFile, prometheus)
  const compose = parse(readFileSync(composeFile(deps.env), 'utf8')) as Record<string, unknown>
  const doc = renderStackFile(compose, {
    env: deps.env,
    replicas,
    ...(appImage ? {appImage} : {}),
    secrets: stackSecrets(deps.config, deps.env),
    prometheusConfig: {file: prometheusFile, value: prometheus},
    monitorSeconds: deps.config.swarmMonitorS,
  })
  const file = join(dir, 'stack.yml')
  writePrivate(file, `# Rendered by \`platform up --swarm\` from ${composeFile(deps.env)}; rewritten on every up.\n${stringify(doc)}`)
  return file
}

/**
 * The app image in a registry every node pulls from, tagged by its content (the first 12 hex of its
 * id), so a new build is a new reference and Swarm rolls it out.
 */
async function pushAppImage(deps: SwarmDeps, image: string, registry: string): Promise<string> {
  if (!/^[a-z0-9.-]+(:\d+)?$/i.test(registry)) {
    throw new PlatformError('USAGE', `--registry ${registry} is not HOST or HOST:PORT`, {suggestion: 'e.g. --registry 10.0.0.1:5000'})
  }
  const id = await deps.engine.imageId(image)
  if (!id) throw new PlatformError('NOT_FOUND', `no image ${image} to push`, {suggestion: 'build it: platform up --swarm --build'})
  const name = image
    .split('@')[0]!
    .replace(/:[^:/]+$/, '')
    .split('/')
    .pop()
  const ref = `${registry}/${name}:${id.replace(/^sha256:/, '').slice(0, 12)}`
  const digest = await deps.swarm.push(image, ref)
  // Pinned by digest, so every node runs the same bytes and the CLI need not ask the registry.
  return digest ? `${ref}@${digest}` : ref
}

/** This engine as a swarm manager: joined (or, with init, made a single-node swarm), else exit 3 naming the way out. */
export async function ensureManager(swarm: SwarmEngine, init = false): Promise<string> {
  let info = await swarm.info()
  if (info.state === 'inactive' && init) {
    try {
      await swarm.init()
    } catch (err) {
      // An engine with several addresses cannot choose which to advertise; a single-node swarm needs none but its own.
      if (!/advertise/i.test((err as Error).message)) throw err
      await swarm.init('127.0.0.1')
    }
    info = await swarm.info()
    if (info.state !== 'active') throw new PlatformError('CHECK_FAILED', `docker swarm init left the engine ${info.state}`)
    return 'made a single-node swarm'
  }
  if (info.state !== 'active') {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `the Docker engine at ${swarm.host} is not in a swarm (${info.state})`, {
      suggestion: 'run `docker swarm init` first, or `platform up --swarm --init` to make this engine a single-node swarm',
    })
  }
  if (!info.manager) {
    throw new PlatformError(
      'ENVIRONMENT_UNAVAILABLE',
      `the Docker engine at ${swarm.host} is a swarm worker; a stack is deployed on a manager`,
      {
        suggestion: 'point DOCKER_HOST at a manager node (`docker node ls` there lists them)',
      },
    )
  }
  return 'a manager'
}

/** PostgreSQL's volume is local to a node: the node labelled for it, else this one, labelled now. */
async function pinPostgres(swarm: SwarmEngine): Promise<string> {
  const nodes = await swarm.nodes()
  const pinned = nodes.find((n) => n.labels[POSTGRES_NODE_LABEL] === 'true')
  if (pinned) return `on ${pinned.hostname}`
  const self = (await swarm.info()).nodeId
  const node = nodes.find((n) => n.id === self) ?? nodes[0]
  if (!node) throw new PlatformError('CHECK_FAILED', 'the swarm lists no node')
  await swarm.addNodeLabels(node.id, {[POSTGRES_NODE_LABEL]: 'true'})
  return `on ${node.hostname} (labelled ${POSTGRES_NODE_LABEL}=true)`
}

/** Tasks that should run and do (a task with a healthcheck is `running` only once healthy). */
const runningTasks = (tasks: SwarmTask[]) => tasks.filter((t) => t.desiredState === 'running' && t.state === 'running')

/** The newest failures of a service's tasks, newest first. */
function failures(tasks: SwarmTask[], since = 0): SwarmTask[] {
  return tasks
    .filter((t) => (t.state === 'failed' || t.state === 'rejected') && Date.parse(t.at) >= since)
    .sort((a, b) => b.at.localeCompare(a.at))
}

const settled = (s: SwarmService) => !s.update || !/^(updating|rollback_started)$/.test(s.update.state)

/**
 * Waits until every service of the stack runs its desired replicas, healthy, and no update is
 * under way. A timeout names each service that did not get there with its tasks' last error.
 */
export async function waitConverged(deps: Pick<SwarmDeps, 'swarm' | 'clock'>, timeoutMs: number): Promise<SwarmService[]> {
  let last: Array<{s: SwarmService; tasks: SwarmTask[]}> = []
  const done = await pollUntil(
    async () => {
      const services = await deps.swarm.services(STACK)
      if (services.length === 0) return undefined
      last = await Promise.all(services.map(async (s) => ({s, tasks: await deps.swarm.tasks(s.fullName)})))
      return last.every(({s, tasks}) => runningTasks(tasks).length === s.desired && settled(s)) ? services : undefined
    },
    {timeoutMs, everyMs: 1000, clock: deps.clock},
  )
  if (done) return done
  const behind = last
    .filter(({s, tasks}) => runningTasks(tasks).length !== s.desired || !settled(s))
    .map(({s, tasks}) => {
      const why = failures(tasks)[0]?.error
      return `${s.name} ${runningTasks(tasks).length}/${s.desired}${s.update ? ` (${s.update.state})` : ''}${why ? `: ${why}` : ''}`
    })
  throw new PlatformError('CHECK_FAILED', `the stack did not converge in ${timeoutMs / 1000} s: ${behind.join('; ') || 'no service'}`, {
    suggestion: 'see `platform status --swarm` and `platform logs --swarm SERVICE`',
  })
}

/** This engine's containers of a stack service's tasks (a task on another node has none here). */
export async function localTaskContainers(deps: Pick<SwarmDeps, 'engine'>, service: string): Promise<ContainerSummary[]> {
  const full = `${STACK}_${service}`
  return (await deps.engine.containers({all: false})).filter((c) => c.labels['com.docker.swarm.service.name'] === full)
}

/** The steps of `up --swarm`, for the command's task list. */
export function swarmUpSteps(deps: SwarmDeps, opts: SwarmUpOptions = {}): Step[] {
  const app = readServices(deps.env).find((s) => s.build)
  let appImage: string | undefined
  return [
    {title: 'Docker reachable, a swarm manager', run: () => ensureManager(deps.swarm, opts.init)},
    imageStep(deps, app, opts.build),
    {
      title: opts.registry ? `Image pushed to ${opts.registry}` : 'One node: the local image serves',
      run: async () => {
        if (opts.registry) {
          appImage = await pushAppImage(deps, app?.image ?? 'platform-app:latest', opts.registry)
          return appImage
        }
        const nodes = await deps.swarm.nodes()
        if (nodes.length === 1) return nodes[0]!.hostname
        throw new PlatformError('USAGE', `the swarm has ${nodes.length} nodes, and only this one holds the image ${app?.image}`, {
          suggestion: 'give a registry every node reaches: platform up --swarm --registry HOST:PORT',
        })
      },
    },
    {title: 'PostgreSQL pinned to its node', run: () => pinPostgres(deps.swarm)},
    {
      title: 'docker stack deploy platform',
      run: async () => {
        const file = writeStackFile(deps, opts.replicas, appImage)
        // Never ask a registry: a local image is in none, and a pushed one is already pinned by its digest.
        await deps.docker.run(['stack', 'deploy', '--compose-file', file, '--resolve-image', 'never', '--prune', STACK], {onLine: deps.log})
      },
    },
    {
      title: 'Every replica running and healthy',
      run: async () => {
        const services = await waitConverged(deps, opts.timeoutMs ?? 240_000)
        return services.map((s) => `${s.name} ${s.desired}/${s.desired}`).join(', ')
      },
    },
    {
      title: 'Migrations applied (under the advisory lock)',
      run: async () => {
        const [l01] = await localTaskContainers(deps, 'l01-data-layer')
        return l01 ? migrateIn(deps.engine, l01) : 'no l01-data-layer task on this node (each replica migrates at its start)'
      },
    },
  ]
}

/** What `status --swarm` shows of each service: replicas, image, ports, update state, recent failures. */
export async function swarmStatus(deps: Pick<SwarmDeps, 'swarm' | 'engine' | 'config' | 'clock'>): Promise<PlatformStatus> {
  await ensureManager(deps.swarm)
  const now = deps.clock?.now() ?? Date.now()
  const services: ServiceStatus[] = []
  for (const s of await deps.swarm.services(STACK)) {
    const tasks = await deps.swarm.tasks(s.fullName)
    const running = runningTasks(tasks).length
    const update = s.update?.state
    const health: ServiceStatus['health'] =
      running === s.desired && s.desired > 0 && settled(s) && !/paused/.test(update ?? '')
        ? 'healthy'
        : settled(s)
          ? 'unhealthy'
          : 'starting'
    const failed = failures(tasks, now - 15 * 60_000).slice(0, 3)
    const published = s.ports.find((p) => p.published)
    services.push({
      name: s.name,
      ...(published && s.name !== 'prometheus' ? {url: `http://127.0.0.1:${published.published}`} : {}),
      state: `${running}/${s.desired} running`,
      health,
      replicas: {running, desired: s.desired},
      image: s.image,
      ...(await digestOf(deps, s.image)),
      ports: s.ports.map((p) => `${p.published}->${p.target}`),
      ...(update ? {update} : {}),
      ...(s.update?.message && update !== 'completed' ? {detail: s.update.message} : {}),
      ...(failed.length
        ? {failedTasks: failed.map((t) => ({task: `${s.name}.${t.slot ?? t.id.slice(0, 12)}`, error: t.error ?? t.state, at: t.at}))}
        : {}),
    })
  }
  return {mode: 'swarm', running: services.length > 0, apiKeyFile: apiKeyPath(deps.config), services}
}

/** The local image id of a reference (what a patch and drift compare), when this engine holds it. */
async function digestOf(deps: Pick<SwarmDeps, 'engine'>, image: string): Promise<{digest?: string}> {
  const at = image.indexOf('@sha256:')
  if (at >= 0) return {digest: image.slice(at + 1)}
  const id = await deps.engine.imageId(image).catch(() => undefined)
  return id ? {digest: id} : {}
}

/** Log lines of one service (or all), every line prefixed with its task (service.slot). */
export async function swarmLogs(deps: Pick<SwarmDeps, 'swarm'>, service: string | undefined, opts: {tail?: number; since?: number}) {
  await ensureManager(deps.swarm)
  const all = await deps.swarm.services(STACK)
  const chosen = service ? all.filter((s) => s.name === service) : all
  if (!chosen.length) {
    throw new PlatformError('NOT_FOUND', service ? `the stack ${STACK} has no service ${service}` : `the stack ${STACK} is not deployed`, {
      suggestion: all.length ? `services: ${all.map((s) => s.name).join(', ')}` : 'deploy it with `platform up --swarm`',
    })
  }
  const parts = await Promise.all(
    chosen.map(async (s) => {
      const slots = new Map((await deps.swarm.tasks(s.fullName)).map((t) => [t.id, `${s.name}.${t.slot ?? t.id.slice(0, 12)}`]))
      const lines = await deps.swarm.logs(s.id, opts)
      return lines.map((l) => `${(slots.get(l.task) ?? s.name).padEnd(20)}| ${l.line}\n`).join('')
    }),
  )
  return parts.join('')
}

/** `docker stack rm platform`, then waits until its tasks and networks are gone; with volumes, removes this node's volumes too. */
export async function swarmDown(deps: SwarmDeps, opts: {volumes?: boolean; timeoutMs?: number} = {}): Promise<{removed: string[]}> {
  await ensureManager(deps.swarm)
  const services = await deps.swarm.services(STACK)
  // Also when only networks, secrets or configs are left (a deploy that failed half-way): stack rm takes those too.
  if (services.length || (await deps.swarm.leftovers(STACK)).length) await deps.docker.run(['stack', 'rm', STACK], {onLine: deps.log})
  const timeoutMs = opts.timeoutMs ?? 90_000
  const gone = await pollUntil(
    async () => {
      const tasks = (await deps.engine.containers({all: true})).filter((c) => c.labels['com.docker.stack.namespace'] === STACK)
      const left = await deps.swarm.leftovers(STACK)
      return tasks.length === 0 && left.length === 0 ? true : undefined
    },
    {timeoutMs, everyMs: 500, clock: deps.clock},
  )
  if (!gone) throw new PlatformError('CHECK_FAILED', `the stack's containers or networks were still there after ${timeoutMs / 1000} s`)
  // Volumes are each node's own: these are this node's (PostgreSQL's is pinned here unless labelled elsewhere).
  if (opts.volumes) await deps.docker.run(['volume', 'rm', '--force', `${STACK}_pgdata`, `${STACK}_prometheus-data`], {onLine: deps.log})
  return {removed: services.map((s) => s.name)}
}
