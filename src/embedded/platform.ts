import {spawn} from 'node:child_process'
import {closeSync, mkdirSync, openSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {
  PlatformError,
  apiKeyPath,
  migrationDirs,
  pidAlive,
  pollUntil,
  portFree,
  probeReady,
  urlOf,
  type HealthProbe,
  type PlatformConfig,
  type PlatformStatus,
  type ServiceStatus,
} from '../core/index.js'
import {migrate, openDb, resolveDatabase, stopClusterOf, findPgBinaries, type EngineInfo} from '../db/index.js'
import {portInUse} from '../server/index.js'
import {startHosted, startTogether, type HostedService, type HostOptions, type Topology} from './hosts.js'
import {clearRunState, livingServices, readRunState, runFiles, writeRunState, type RunState} from './state.js'

/** The topology `up` uses unless told otherwise; chosen by bench/topology (see README). */
export const DEFAULT_TOPOLOGY: Topology = 'shared'

export interface Platform {
  state: RunState
  /** Resolves when a service stops by itself. */
  died: Promise<Error>
  close(): Promise<void>
}

async function preflight(config: PlatformConfig): Promise<void> {
  const wanted = [
    ['the data layer (L01)', config.dataLayer],
    ['the gateway (L09)', config.gateway],
  ] as const
  for (const [what, addr] of wanted) {
    if (!(await portFree(addr.port, addr.host))) throw portInUse(what, addr)
  }
}

export interface StartPlatformOptions extends HostOptions {
  detached?: boolean
  /** Told what happens, for people: "creating the database", "starting PostgreSQL". */
  onStep?: (step: string) => void
  /** One line when the database is not the default one (a fallback, existing PGlite data). */
  onNote?: (line: string) => void
}

/**
 * The database (the embedded PostgreSQL started, or found running, and owned by this
 * process), then L01 and L09 (pointed at that L01), each on the given topology; recorded
 * under .platform/ once both listen. Closing stops all three.
 */
export async function startPlatform(config: PlatformConfig, topology: Topology, opts: StartPlatformOptions): Promise<Platform> {
  await preflight(config)
  const database = await resolveDatabase(config, {
    own: true,
    onStep: opts.onStep,
    onRestart: (err) =>
      opts.onNote?.(
        err
          ? `the embedded PostgreSQL stopped and could not be started again: ${err.message}`
          : 'the embedded PostgreSQL stopped; started it again',
      ),
  })
  if (database.note) opts.onNote?.(database.note)
  try {
    // On PostgreSQL the migrations run here first, so people see them; L01 then finds none
    // pending. PGlite has one writer: L01 migrates it itself.
    if (database.info.engine !== 'pglite') await migrateFirst(database.config, opts.onStep)
    opts.onStep?.('starting L01 and L09')
    return await startServices(database.config, topology, opts, database.info, database.release)
  } catch (err) {
    await database.release()
    throw err
  }
}

async function migrateFirst(config: PlatformConfig, onStep?: (step: string) => void): Promise<void> {
  const db = await openDb({...config, poolSize: 1})
  try {
    await migrate(db, {
      dir: migrationDirs(config),
      lockTimeoutMs: config.migrationLockTimeoutMs,
      onApply: (m) => onStep?.(`applied migration ${m.file}`),
    })
  } finally {
    await db.close()
  }
}

/** Unix socket paths are short (108 bytes on Linux): a deep state directory does without. */
const MAX_SOCKET_PATH = 100

/** The gateway was not pointed at another L01 than the platform's own. */
const ownsL01 = (config: PlatformConfig) => config.gateway.l01Url === urlOf(config.dataLayer)

function localSocket(config: PlatformConfig, topology: Topology): string | undefined {
  const path = join(config.stateDir, 'l01.sock')
  return topology === 'threads' && ownsL01(config) && Buffer.byteLength(path) <= MAX_SOCKET_PATH ? path : undefined
}

async function startServices(
  config: PlatformConfig,
  topology: Topology,
  opts: StartPlatformOptions,
  engine: EngineInfo,
  release: () => Promise<void>,
): Promise<Platform> {
  // Shared and inline, both start in one event loop, L01 first, and L09 calls L01 there.
  // Otherwise, with a known L01 port both start at once (L09 tolerates an L01 still
  // starting); with port 0 L09 must wait to learn it. L09 reaches L01 over a Unix socket in
  // the state directory when they share a machine and the gateway was not pointed
  // elsewhere; the processes topology keeps to TCP.
  const socket = localSocket(config, topology)
  if (socket) config = {...config, dataLayer: {...config.dataLayer, socket}}
  const l09Config = (l01Url: string) => ({...config, gateway: {...config.gateway, l01Url, l01Socket: socket}})
  let l01: HostedService
  let l09: HostedService
  if (topology === 'shared' || topology === 'inline') {
    ;[l01, l09] = await startTogether(config, topology, opts, ownsL01(config))
  } else if (config.dataLayer.port !== 0) {
    const [a, b] = await Promise.allSettled([
      startHosted('l01-data-layer', config, topology, opts),
      startHosted('l09-api-gateway', l09Config(urlOf(config.dataLayer)), topology, opts),
    ])
    if (a.status === 'rejected' || b.status === 'rejected') {
      await Promise.all([a, b].map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)))
      throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason
    }
    ;[l01, l09] = [a.value, b.value]
  } else {
    l01 = await startHosted('l01-data-layer', config, topology, opts)
    try {
      l09 = await startHosted('l09-api-gateway', l09Config(l01.url), topology, opts)
    } catch (err) {
      await l01.close()
      throw err
    }
  }
  const state: RunState = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    topology,
    database: engine.description,
    engine,
    detached: Boolean(opts.detached),
    logFile: opts.logFile,
    services: [l01, l09].map((s) => ({name: s.name, url: s.url, ...(s.pid ? {pid: s.pid} : {})})),
  }
  writeRunState(config, state)
  let closed: Promise<void> | undefined
  return {
    state,
    died: Promise.race([l01.died, l09.died]),
    close: () =>
      (closed ??= (async () => {
        try {
          await l09.close()
        } finally {
          try {
            await l01.close()
          } finally {
            await release()
            clearRunState(config, process.pid)
          }
        }
      })()),
  }
}

export async function platformStatus(
  config: PlatformConfig,
  probe: HealthProbe = probeReady,
  now: () => Date = () => new Date(),
): Promise<PlatformStatus> {
  const state = readRunState(config)
  const apiKeyFile = apiKeyPath(config)
  if (!state) return {mode: 'embedded', running: false, apiKeyFile, services: []}
  const uptimeSeconds = Math.max(0, Math.round((now().getTime() - Date.parse(state.startedAt)) / 1000))
  // Services whose supervisor died still serve: shown as orphaned, for `down` to stop.
  const orphaned = !pidAlive(state.pid)
  const services = await Promise.all(
    state.services.map(async (s): Promise<ServiceStatus> => {
      const h = await probe(s.url)
      const detail = orphaned ? `its supervisor (pid ${state.pid}) is gone; \`platform down\` stops it` : h.detail
      return {
        name: s.name,
        url: s.url,
        state: orphaned ? 'orphaned' : 'running',
        health: h.healthy && !orphaned ? 'healthy' : 'unhealthy',
        detail,
        uptimeSeconds,
      }
    }),
  )
  return {
    mode: 'embedded',
    running: true,
    pid: state.pid,
    topology: state.topology,
    startedAt: state.startedAt,
    uptimeSeconds,
    database: state.database,
    engine: state.engine,
    logFile: state.logFile,
    apiKeyFile,
    services,
  }
}

/** A running platform, if any: `up` reports it instead of starting a second one. */
export async function runningPlatform(config: PlatformConfig, probe: HealthProbe = probeReady): Promise<PlatformStatus | undefined> {
  const status = await platformStatus(config, probe)
  return status.running ? status : undefined
}

/**
 * Starts `platform up` again as a detached child logging to .platform/platform.log, and
 * waits until it has recorded itself and both services answer ready. A child that dies
 * first is reported with the end of its log.
 */
export async function startDetached(
  config: PlatformConfig,
  args: string[],
  opts: {cliEntry: string; timeoutMs?: number; probe?: HealthProbe},
): Promise<PlatformStatus> {
  const files = runFiles(config)
  const probe = opts.probe ?? probeReady
  mkdirSync(config.stateDir, {recursive: true})
  const log = openSync(files.log, 'a')
  const child = spawn(process.execPath, [...process.execArgv, opts.cliEntry, 'up', ...args], {
    cwd: config.root,
    env: {...process.env, PLATFORM_STATE_DIR: config.stateDir},
    detached: true,
    stdio: ['ignore', log, log],
  })
  closeSync(log)
  child.unref()
  const ready = await pollUntil(
    async () => {
      if (child.exitCode !== null || !pidAlive(child.pid!)) return null
      const status = await platformStatus(config, probe)
      return status.running && status.pid === child.pid && status.services.every((s) => s.health === 'healthy') ? status : undefined
    },
    {timeoutMs: opts.timeoutMs ?? 60_000, everyMs: 50},
  )
  if (ready) return ready
  const running = child.exitCode === null && pidAlive(child.pid!)
  if (running) process.kill(child.pid!, 'SIGTERM')
  const tail = readFileSync(files.log, 'utf8').trimEnd().split('\n').slice(-15).join('\n')
  throw new PlatformError(
    running ? 'CHECK_FAILED' : 'ENVIRONMENT_UNAVAILABLE',
    `the platform did not become ready${running ? ' in time' : ''}; the end of ${files.log}:\n${tail}`,
    {
      suggestion: 'fix what the log says, then run `platform up --detach` again',
    },
  )
}

/** Stops a running platform: SIGTERM, then SIGKILL after timeoutMs. Returns the stopped pid, if any. */
export async function stopPlatform(
  config: PlatformConfig,
  timeoutMs = 15_000,
): Promise<{stopped?: number; forced: boolean; orphanDatabase: boolean}> {
  const state = readRunState(config)
  let forced = false
  if (state) {
    // The supervisor, and any service process of its that outlived it.
    const pids = [state.pid, ...livingServices(state)].filter(pidAlive)
    const signal = (pid: number, sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig)
      } catch {
        // gone meanwhile
      }
    }
    const first = pidAlive(state.pid) ? [state.pid] : pids
    for (const pid of first) signal(pid, 'SIGTERM')
    await pollUntil(() => (pids.some(pidAlive) ? undefined : true), {timeoutMs, everyMs: 100})
    const left = pids.filter(pidAlive)
    forced = left.length > 0
    for (const pid of left) signal(pid, 'SIGKILL')
    clearRunState(config, state.pid)
  }
  // A postmaster left by a platform that was killed (or forced just now) is stopped too.
  const bins = findPgBinaries()
  const orphanDatabase = bins ? await stopClusterOf(config.stateDir, bins) : false
  return {stopped: state?.pid, forced, orphanDatabase}
}
