import {existsSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {LineCounter, parseDocument, isMap, isScalar, type Node} from 'yaml'
import {closest} from './closest.js'
import {PlatformError} from './errors.js'

export type Mode = 'embedded' | 'docker' | 'swarm'
export type DbEngine = 'postgres' | 'pglite'

export interface ServiceAddress {
  host: string
  port: number
}

export interface PlatformConfig {
  /** The project root: where platform.yaml and .platform/ live. */
  root: string
  /** Where the platform keeps its state (PGlite data, keys, pidfiles, logs). */
  stateDir: string
  /** platform.yaml when there is one. */
  file?: string
  mode: Mode
  databaseUrl?: string
  /** The embedded engine when there is no URL: the embedded PostgreSQL (default) or PGlite. */
  dbEngine?: DbEngine
  /** PGlite directory (database.engine: pglite, or data that was already there). */
  dataDir: string
  /** socket: a Unix socket L01 also listens on, for a gateway on this machine. */
  dataLayer: ServiceAddress & {socket?: string}
  /**
   * l01Url: where the gateway finds L01 (default: the data layer's address); l01Socket: L01's
   * Unix socket when both run on this machine (the embedded platform sets it, with dataLayer.socket).
   */
  gateway: ServiceAddress & {upstreamTimeoutMs: number; l01Url: string; l01Socket?: string}
  migrationLockTimeoutMs: number
  /** The project's own migrations (`db new` writes there), applied after the platform's. */
  projectMigrationsDir: string
  /** hot patches: local path prefix -> container path prefix */
  patchMappings: Record<string, string>
  /** up --swarm: replicas per service (swarm.replicas), under --replicas */
  swarmReplicas: Record<string, number>
  /** up --swarm: seconds Swarm watches each updated task before it counts as good (swarm.update_monitor_s) */
  swarmMonitorS: number
  /** Every key of platform.yaml: its effective value and where that came from (`platform config`). */
  settings: Record<string, Setting>
  /** Limits both HTTP services apply to their connections. */
  server: ServerLimits
}

export type SettingSource = 'default' | 'file' | 'environment' | 'flag'

export interface Setting {
  value: unknown
  source: SettingSource
  /** the environment variable, flag or file it came from */
  from?: string
}

/** What one HTTP service allows a client (platform.yaml `server:`). */
export interface ServerLimits {
  /** A request's headers must arrive within this; slow senders (slowloris) are cut off. */
  headersTimeoutMs: number
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** Connections beyond this many are closed as soon as they are accepted. */
  maxConnections: number
  /** Requests a client may send on one connection before reading the answers (pipelining). */
  maxPipelinedRequests: number
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
  maxPipelinedRequests: 32,
}

export const CONFIG_FILE = 'platform.yaml'

type Check = (v: unknown) => string | undefined
const isPort: Check = (v) =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535 ? undefined : 'must be a port number (1-65535)'
const isText: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string')
const isPositiveInt: Check = (v) =>
  Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive whole number of milliseconds'
const isCount: Check = (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive whole number')
const isStringMap: Check = (v) =>
  v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' && x.length > 0)
    ? undefined
    : 'must be a mapping of local paths to container paths'
const isCountMap: Check = (v) =>
  v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => Number.isInteger(x) && (x as number) >= 0)
    ? undefined
    : 'must be a mapping of service names to replica counts'
const isMode: Check = (v) => (v === 'embedded' || v === 'docker' || v === 'swarm' ? undefined : 'must be one of: embedded, docker, swarm')
const isEngine: Check = (v) => (v === 'postgres' || v === 'pglite' ? undefined : 'must be one of: postgres, pglite')

/** Every key platform.yaml may hold, dotted, with its check. Unknown keys are errors: they are usually typos. */
export const KEYS: Record<string, Check> = {
  mode: isMode,
  database_url: isText,
  'database.engine': isEngine,
  data_dir: isText,
  'data_layer.host': isText,
  'data_layer.port': isPort,
  'gateway.host': isText,
  'gateway.port': isPort,
  'gateway.upstream_timeout_ms': isPositiveInt,
  'gateway.l01_url': isText,
  'migrations.lock_timeout_ms': isPositiveInt,
  'migrations.dir': isText,
  'patch.mappings': isStringMap,
  'swarm.replicas': isCountMap,
  'swarm.update_monitor_s': isCount,
  'server.headers_timeout_ms': isPositiveInt,
  'server.request_timeout_ms': isPositiveInt,
  'server.keep_alive_timeout_ms': isPositiveInt,
  'server.max_connections': isCount,
  'server.max_pipelined_requests': isCount,
}
const SECTIONS = new Set(
  Object.keys(KEYS)
    .filter((k) => k.includes('.'))
    .map((k) => k.split('.')[0]!),
)

function configError(file: string, lines: LineCounter, node: Node | null | undefined, key: string, message: string, nearest?: string) {
  const line = node?.range ? lines.linePos(node.range[0]).line : undefined
  const hint = nearest ? `; did you mean ${nearest}?` : ''
  return new PlatformError('CONFIG_INVALID', `${file}${line ? `:${line}` : ''}: ${key} ${message}${hint}`, {
    suggestion: `fix ${key} in ${file}; the keys it may hold are: ${Object.keys(KEYS).join(', ')}`,
  })
}

/** The known key (or, at the top level, section) nearest to an unknown one. */
function nearestKey(key: string, prefix: string): string | undefined {
  const top = [...Object.keys(KEYS).filter((k) => !k.includes('.')), ...SECTIONS]
  return closest(key, prefix ? Object.keys(KEYS).filter((k) => k.startsWith(prefix)) : top)
}

/** Reads platform.yaml into dotted keys, refusing bad YAML, unknown keys and wrong values with file and line. */
export function readConfigFile(file: string): Record<string, unknown> {
  const lines = new LineCounter()
  const doc = parseDocument(readFileSync(file, 'utf8'), {lineCounter: lines, prettyErrors: false})
  if (doc.errors.length) {
    const e = doc.errors[0]!
    const line = lines.linePos(e.pos[0]).line
    throw new PlatformError('CONFIG_INVALID', `${file}:${line}: not valid YAML: ${e.message.split('\n')[0]}`, {
      suggestion: `fix the YAML syntax of ${file}`,
    })
  }
  const out: Record<string, unknown> = {}
  if (doc.contents == null) return out
  if (!isMap(doc.contents)) throw configError(file, lines, doc.contents, 'the file', 'must be a mapping of keys to values')
  const walk = (map: typeof doc.contents, prefix: string) => {
    for (const pair of (map as {items: Array<{key: unknown; value: unknown}>}).items) {
      const keyNode = pair.key as Node
      const key = `${prefix}${isScalar(keyNode) ? String(keyNode.value) : '?'}`
      const valueNode = pair.value as Node | null
      if (!prefix && SECTIONS.has(key)) {
        if (!isMap(valueNode)) throw configError(file, lines, keyNode, key, 'must be a mapping')
        walk(valueNode as typeof doc.contents, `${key}.`)
        continue
      }
      const check = KEYS[key]
      if (!check) throw configError(file, lines, keyNode, key, 'is not a known key', nearestKey(key, prefix))
      const value = isScalar(valueNode) ? valueNode.value : valueNode?.toJSON()
      const problem = check(value)
      if (problem) throw configError(file, lines, valueNode ?? keyNode, key, problem)
      out[key] = value
    }
  }
  walk(doc.contents, '')
  return out
}

function envPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (isPort(n)) throw new PlatformError('CONFIG_INVALID', `${name}=${raw} must be a port number (1-65535)`)
  return n
}

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (isPositiveInt(n)) throw new PlatformError('CONFIG_INVALID', `${name}=${raw} must be a positive whole number`)
  return n
}

/** The URL a client on this machine uses for a service address (a wildcard host means loopback). */
export function urlOf(addr: ServiceAddress): string {
  const host = addr.host === '0.0.0.0' || addr.host === '::' ? '127.0.0.1' : addr.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`
}

export interface LoadOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/** Configuration from platform.yaml, then the environment over it; commands apply their flags over that. */
export function loadConfig(opts: LoadOptions = {}): PlatformConfig {
  const env = opts.env ?? process.env
  const root = resolve(opts.cwd ?? process.cwd())
  const path = join(root, CONFIG_FILE)
  const file = existsSync(path) ? path : undefined
  const y = file ? readConfigFile(file) : {}
  const stateDir = resolve(root, env.PLATFORM_STATE_DIR || '.platform')
  const settings: Record<string, Setting> = {}
  /** A key's value: its environment variable when set, else platform.yaml, else the default; where it came from is kept. */
  const pick = <T>(key: string, envName: string | undefined, fromEnv: T | undefined, fallback: T): T => {
    const setting: Setting =
      fromEnv !== undefined && fromEnv !== ''
        ? {value: fromEnv, source: 'environment', from: envName}
        : y[key] !== undefined
          ? {value: y[key], source: 'file', from: file}
          : {value: fallback, source: 'default'}
    settings[key] = setting
    return setting.value as T
  }
  if (env.PLATFORM_MODE && isMode(env.PLATFORM_MODE))
    throw new PlatformError('CONFIG_INVALID', `PLATFORM_MODE=${env.PLATFORM_MODE} must be one of: embedded, docker, swarm`)
  if (env.PLATFORM_DB_ENGINE && isEngine(env.PLATFORM_DB_ENGINE)) {
    throw new PlatformError('CONFIG_INVALID', `PLATFORM_DB_ENGINE=${env.PLATFORM_DB_ENGINE} must be one of: postgres, pglite`)
  }
  const dataLayer = {
    host: pick('data_layer.host', 'L01_HOST', env.L01_HOST, '127.0.0.1'),
    port: pick('data_layer.port', 'L01_PORT', envPort(env, 'L01_PORT'), 8001),
  }
  return {
    root,
    stateDir,
    file,
    mode: pick<Mode>('mode', 'PLATFORM_MODE', env.PLATFORM_MODE as Mode | undefined, 'embedded'),
    databaseUrl: pick<string | undefined>('database_url', 'DATABASE_URL', env.DATABASE_URL, undefined),
    dbEngine: pick('database.engine', 'PLATFORM_DB_ENGINE', env.PLATFORM_DB_ENGINE as DbEngine | undefined, undefined),
    dataDir: resolve(root, pick('data_dir', 'PLATFORM_DATA_DIR', env.PLATFORM_DATA_DIR, join(stateDir, 'data'))),
    dataLayer,
    gateway: {
      host: pick('gateway.host', 'L09_HOST', env.L09_HOST, '127.0.0.1'),
      port: pick('gateway.port', 'L09_PORT', envPort(env, 'L09_PORT'), 8009),
      upstreamTimeoutMs: pick('gateway.upstream_timeout_ms', 'L09_UPSTREAM_TIMEOUT_MS', envInt(env, 'L09_UPSTREAM_TIMEOUT_MS'), 5000),
      l01Url: pick('gateway.l01_url', 'L01_URL', env.L01_URL, urlOf(dataLayer)),
    },
    migrationLockTimeoutMs: pick('migrations.lock_timeout_ms', undefined, undefined, 30_000),
    projectMigrationsDir: resolve(root, pick('migrations.dir', undefined, undefined, join('platform', 'migrations'))),
    patchMappings: pick<Record<string, string>>('patch.mappings', undefined, undefined, {}),
    swarmReplicas: pick<Record<string, number>>('swarm.replicas', undefined, undefined, {}),
    swarmMonitorS: pick('swarm.update_monitor_s', undefined, undefined, 10),
    settings,
    server: serverLimits((key, fallback) => pick(key, undefined, undefined, fallback), file ?? CONFIG_FILE),
  }
}

function serverLimits(setting: (key: string, fallback: number) => number, file: string): ServerLimits {
  const d = DEFAULT_SERVER_LIMITS
  const limits: ServerLimits = {
    headersTimeoutMs: setting('server.headers_timeout_ms', d.headersTimeoutMs),
    requestTimeoutMs: setting('server.request_timeout_ms', d.requestTimeoutMs),
    keepAliveTimeoutMs: setting('server.keep_alive_timeout_ms', d.keepAliveTimeoutMs),
    maxConnections: setting('server.max_connections', d.maxConnections),
    maxPipelinedRequests: setting('server.max_pipelined_requests', d.maxPipelinedRequests),
  }
  // Node refuses a headers timeout longer than the request timeout; say so in the user's terms.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    const over = `server.headers_timeout_ms (${limits.headersTimeoutMs}) is over server.request_timeout_ms (${limits.requestTimeoutMs})`
    throw new PlatformError('CONFIG_INVALID', `${file}: ${over}`, {
      suggestion: 'make server.headers_timeout_ms at most server.request_timeout_ms',
    })
  }
  return limits
}
