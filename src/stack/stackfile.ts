import {createHash} from 'node:crypto'
import {PlatformError} from '../core/index.js'
import {interpolate} from './composefile.js'

/** The Swarm stack's name: the `com.docker.stack.namespace` of its services, networks and secrets. */
export const STACK = 'platform'

/** Replicas when neither --replicas nor platform.yaml names a service. */
export const DEFAULT_REPLICAS: Readonly<Record<string, number>> = {'l01-data-layer': 2, 'l09-api-gateway': 2}

/** The node label PostgreSQL is pinned by: the node that holds its volume. */
export const POSTGRES_NODE_LABEL = 'platform.postgres'

/**
 * What reaches a service as a Docker secret instead of an environment variable: the variable,
 * the secret that holds it, and the *_FILE variable that names the file instead (the
 * convention of the official postgres image, which the platform's services follow too).
 */
export const SECRET_VARS = {
  L01_API_KEY: 'l01_api_key',
  PLATFORM_API_KEYS: 'gateway_api_keys',
  DATABASE_URL: 'database_url',
  POSTGRES_PASSWORD: 'postgres_password',
} as const
export type SecretName = (typeof SECRET_VARS)[keyof typeof SECRET_VARS]

/**
 * Services published through the routing mesh. The data layer and PostgreSQL stay on the
 * stack's network: a mesh port listens on every interface of every node, unlike compose's
 * loopback ports.
 */
const PUBLISHED = new Set(['l09-api-gateway', 'prometheus'])
/** Services that own a volume: two of them at once would share it, so they update stop-first. */
const STATEFUL = new Set(['postgres', 'prometheus'])

export interface StackFileOptions {
  /** the environment the compose file is interpolated with (images, host ports) */
  env: NodeJS.ProcessEnv
  /** service -> replicas; the defaults fill the rest */
  replicas?: Record<string, number>
  /** the app image to deploy, when it is not the compose file's (e.g. pushed to a registry) */
  appImage?: string
  /** secret -> the file holding its value; its content names the Docker secret, so a changed value is a new secret */
  secrets: Record<SecretName, {file: string; value: string}>
  /** Prometheus' configuration for the swarm (every replica scraped), as a file */
  prometheusConfig: {file: string; value: string}
  /** seconds Swarm watches a task after an update before it counts as good */
  monitorSeconds?: number
}

type Doc = Record<string, unknown>
type ServiceDoc = Record<string, unknown>

/** A Docker object name that changes with its content (secrets and configs are immutable). */
const versioned = (name: string, value: string) => `${STACK}_${name}_${createHash('sha256').update(value).digest('hex').slice(0, 12)}`

/** Compose's "[ip:]host:container" as a routing-mesh port. */
function meshPort(spec: string, env: NodeJS.ProcessEnv): Doc {
  const parts = interpolate(spec, env).split(':')
  return {target: Number(parts.at(-1)), published: Number(parts.at(-2)), protocol: 'tcp', mode: 'ingress'}
}

function deploySection(name: string, replicas: number, monitor: number): Doc {
  // Two copies of a stateful service would share its volume, so it stops before its successor starts.
  const order = STATEFUL.has(name) ? 'stop-first' : 'start-first'
  const update = {parallelism: 1, delay: '0s', order, failure_action: 'rollback', monitor: `${monitor}s`, max_failure_ratio: 0}
  return {
    replicas,
    // A published service needs a virtual IP; the others are found by DNS round robin, which also
    // works on kernels without IPVS.
    endpoint_mode: PUBLISHED.has(name) ? 'vip' : 'dnsrr',
    update_config: update,
    rollback_config: {parallelism: 1, delay: '0s', order, failure_action: 'pause', monitor: `${monitor}s`, max_failure_ratio: 0},
    // L01 starts before PostgreSQL answers (Swarm has no depends_on): it exits and is started again.
    restart_policy: {condition: 'any', delay: '2s'},
    labels: {'platform.service': name},
    ...(name === 'postgres' ? {placement: {constraints: [`node.labels.${POSTGRES_NODE_LABEL} == true`]}} : {}),
  }
}

/**
 * The Swarm stack file, rendered from the compose file: the same services, images, commands
 * and healthchecks, plus a deploy section (replicas, start-first updates that roll back on
 * failure, PostgreSQL pinned to its node), secrets instead of key variables, and Prometheus'
 * configuration as a Docker config. Compose-only keys (build, depends_on) are dropped.
 */
export function renderStackFile(compose: Doc, opts: StackFileOptions): Doc {
  const services = compose.services as Record<string, ServiceDoc> | undefined
  if (!services) throw new PlatformError('CONFIG_INVALID', 'the compose file has no services')
  const replicas = {...DEFAULT_REPLICAS, ...opts.replicas}
  const unknown = Object.keys(opts.replicas ?? {}).filter((s) => !services[s])
  if (unknown.length)
    throw new PlatformError('USAGE', `--replicas names ${unknown.join(', ')}, which the stack does not have`, {
      suggestion: `services: ${Object.keys(services).join(', ')}`,
    })
  const secretNames = Object.fromEntries(Object.entries(opts.secrets).map(([k, s]) => [k, versioned(k, s.value)])) as Record<
    SecretName,
    string
  >
  const out: Record<string, ServiceDoc> = {}
  for (const [name, s] of Object.entries(services)) {
    const {build: _build, depends_on: _dependsOn, container_name: _container, ports, volumes, environment, image, ...rest} = s
    const env: Record<string, string> = {}
    const secrets: Array<{source: string; target: string}> = []
    for (const [k, v] of Object.entries((environment as Record<string, unknown> | undefined) ?? {})) {
      const secret = SECRET_VARS[k as keyof typeof SECRET_VARS]
      if (secret) {
        env[`${k}_FILE`] = `/run/secrets/${secret}`
        secrets.push({source: secret, target: secret})
      } else env[k] = interpolate(String(v), opts.env)
    }
    const isApp = Boolean(s.build)
    const mounts = ((volumes as string[] | undefined) ?? []).filter((v) => !v.startsWith('.'))
    const svc: ServiceDoc = {
      image: isApp && opts.appImage ? opts.appImage : interpolate(String(image), opts.env),
      ...rest,
      ...(Object.keys(env).length ? {environment: env} : {}),
      ...(mounts.length ? {volumes: mounts.map((v) => interpolate(v, opts.env))} : {}),
      ...(secrets.length ? {secrets} : {}),
      ...(PUBLISHED.has(name) && ports ? {ports: (ports as string[]).map((p) => meshPort(p, opts.env))} : {}),
      ...(name === 'prometheus' ? {configs: [{source: 'prometheus_yml', target: '/etc/prometheus/prometheus.yml'}]} : {}),
      deploy: deploySection(name, replicas[name] ?? 1, opts.monitorSeconds ?? 10),
    }
    out[name] = svc
  }
  return {
    version: '3.8',
    services: out,
    // attachable: a one-off container (a migration, a smoke run, a debugging shell) can join it.
    networks: {default: {driver: 'overlay', attachable: true}},
    volumes: compose.volumes ?? {},
    secrets: Object.fromEntries(Object.entries(opts.secrets).map(([k, s]) => [k, {name: secretNames[k as SecretName], file: s.file}])),
    configs: {prometheus_yml: {name: versioned('prometheus_yml', opts.prometheusConfig.value), file: opts.prometheusConfig.file}},
  }
}

/** --replicas l01-data-layer=2,l09-api-gateway=3 as a map; a bad item is a usage error naming it. */
export function parseReplicas(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9][a-z0-9_.-]*)=(\d{1,3})$/i.exec(item)
    if (!m) {
      throw new PlatformError('USAGE', `--replicas: "${item}" is not SERVICE=COUNT`, {
        suggestion: 'e.g. --replicas l01-data-layer=2,l09-api-gateway=3',
      })
    }
    out[m[1]!] = Number(m[2])
  }
  return out
}

/**
 * Prometheus in the swarm: every replica of L01 and L09 scraped, found through Swarm's DNS
 * (tasks.<service>), instead of one address that would reach one replica at a time.
 */
export function swarmPrometheusConfig(): string {
  const job = (service: string, port: number) =>
    [
      `  - job_name: ${service}`,
      '    dns_sd_configs:',
      `      - names: ["tasks.${service}"]`,
      '        type: A',
      `        port: ${port}`,
    ].join('\n')
  return [
    '# Rendered by `platform up --swarm`: every replica of each service, found through Swarm DNS.',
    'global:',
    '  scrape_interval: 5s',
    '  evaluation_interval: 5s',
    'scrape_configs:',
    '  - job_name: prometheus',
    '    static_configs:',
    '      - targets: ["localhost:9090"]',
    job('l01-data-layer', 8001),
    job('l09-api-gateway', 8009),
    '',
  ].join('\n')
}
