import {rmSync} from 'node:fs'
import type {FastifyInstance} from 'fastify'
import {
  gatewayKeys,
  internalKey,
  isPlatformError,
  migrationDirs,
  packageVersion,
  pollUntil,
  type PlatformConfig,
  type ServiceAddress,
} from '../core/index.js'
import {migrate, openDb, resolveDatabase, type Db} from '../db/index.js'
import {createMetrics, responseObserver, serviceLog, type Answered, type LogTarget} from '../observability/index.js'
import type {Store} from '../data-layer/index.js'
import type {L01} from '../gateway/index.js'

export type ServiceName = 'l01-data-layer' | 'l09-api-gateway'

export interface RunningService {
  name: ServiceName
  url: string
  /** For people: the PGlite path or PostgreSQL host (L01), the L01 URL (L09). */
  backend: string
  /** Stops accepting, drains in-flight requests, then releases what the service holds. */
  close(): Promise<void>
  /** L01 only: what a gateway in the same event loop calls it through (InProcessL01), and where its internal errors are logged. */
  local?: {store: Store; logError: (err: unknown, requestId?: string) => void; observe: (a: Answered) => void}
}

export interface StartOptions {
  /** Its JSON log lines: a level, and a file to append them to (else stdout). None when undefined. */
  log?: LogTarget
  /** Told about each migration applied at start. */
  onMigrate?: (file: string) => void
  /** L01: how long to wait at start for a database that does not answer yet (0: not at all) */
  waitForDbMs?: number
  /** L09: the L01 to call in this event loop (InProcessL01 on its `local`), instead of over HTTP at config.gateway.l01Url. */
  l01?: L01
}

/** Polls the database until it answers, for up to ms; past that, the last refusal is the error. */
async function waitForDatabase(db: Db, ms: number): Promise<void> {
  let last: unknown
  const ok = await pollUntil(
    () =>
      db.query('SELECT 1').then(
        () => true,
        (err: unknown) => {
          if (!isPlatformError(err, 'DATABASE_UNAVAILABLE')) throw err
          last = err
          return undefined
        },
      ),
    {timeoutMs: ms, everyMs: 500},
  )
  if (!ok) throw last
}

/**
 * Hands the connections of a Unix socket to the app's own HTTP server, so they get the same
 * routes, hooks, limits and draining as its TCP ones. A local hop over a Unix socket costs
 * less than over loopback TCP (no TCP stack on either side).
 */
async function alsoOnSocket(app: FastifyInstance, path: string): Promise<() => Promise<void>> {
  const {createServer} = await import('node:net')
  rmSync(path, {force: true}) // left by a process that is gone: the state dir is this platform's alone
  const unix = createServer((socket) => app.server.emit('connection', socket))
  await new Promise<void>((resolve, reject) => unix.once('error', reject).listen(path, () => resolve()))
  return () => new Promise((resolve) => unix.close(() => resolve()))
}

/** Listens, and on close drains the server before releasing its resources (also if listen fails). */
async function serve(
  name: ServiceName,
  app: FastifyInstance,
  addr: ServiceAddress & {socket?: string},
  backend: string,
  release: () => Promise<void>,
): Promise<RunningService> {
  const {listen} = await import('../server/index.js')
  let closeSocket = async () => {}
  try {
    const url = await listen(app, addr, name === 'l01-data-layer' ? 'the data layer (L01)' : 'the gateway (L09)')
    if (addr.socket) closeSocket = await alsoOnSocket(app, addr.socket)
    return {
      name,
      url,
      backend,
      async close() {
        try {
          await closeSocket()
          await app.close()
        } finally {
          await release()
        }
      },
    }
  } catch (err) {
    await app.close().catch(() => {})
    await release()
    throw err
  }
}

/**
 * L01 on this machine: opens the configured database (PGlite, or PostgreSQL when there
 * is a URL), applies pending migrations under the lock, and listens.
 */
export async function startDataLayer(config: PlatformConfig, opts: StartOptions = {}): Promise<RunningService> {
  // The server code loads while the database opens (PGlite's start is mostly WASM compiling).
  const [db, {buildDataLayer, createStore}] = await Promise.all([openDb(config), import('../data-layer/index.js')])
  const log = serviceLog(opts.log)
  let app: FastifyInstance
  const store = createStore(db)
  const metrics = createMetrics()
  try {
    if (opts.waitForDbMs) await waitForDatabase(db, opts.waitForDbMs)
    await migrate(db, {dir: migrationDirs(config), lockTimeoutMs: config.migrationLockTimeoutMs, onApply: (m) => opts.onMigrate?.(m.file)})
    app = buildDataLayer({
      db,
      store,
      metrics,
      apiKeys: [internalKey(config)],
      version: packageVersion(),
      logger: log.logger,
      limits: config.server,
    })
  } catch (err) {
    await db.close()
    await log.flush()
    throw err
  }
  const service = await serve('l01-data-layer', app, config.dataLayer, db.location, () => db.close().finally(log.flush))
  const logError = (err: unknown, reqId?: string) => app.log.error({reqId, err}, 'unhandled error')
  return {...service, local: {store, logError, observe: responseObserver(app.log, metrics)}}
}

/** L01 on the database `up` would choose (starting the embedded PostgreSQL if needed, and stopping it on close). */
export async function startDataLayerWithDatabase(
  config: PlatformConfig,
  opts: StartOptions & {onNote?: (line: string) => void} = {},
): Promise<RunningService> {
  const database = await resolveDatabase(config, {own: true})
  if (database.note) opts.onNote?.(database.note)
  try {
    const service = await startDataLayer(database.config, opts)
    const backend = database.info.engine === 'external' ? service.backend : database.info.description
    return {...service, backend, close: () => service.close().finally(database.release)}
  } catch (err) {
    await database.release()
    throw err
  }
}

/**
 * L01, then L09 in the same event loop: L09 calls L01 in-process (through its `local`) unless the
 * gateway was pointed at another L01. Stopping L09 leaves L01 running; closing both is the caller's.
 */
export async function startBoth(config: PlatformConfig, opts: StartOptions, inProcess: boolean): Promise<[RunningService, RunningService]> {
  // The gateway's code loads while L01 starts.
  const [l01, {InProcessL01}] = await Promise.all([startDataLayer(config, opts), import('../gateway/index.js')])
  try {
    const {store, ...observed} = l01.local!
    const local = new InProcessL01(store, {baseUrl: l01.url, timeoutMs: config.gateway.upstreamTimeoutMs, ...observed})
    return [l01, await startGateway(config, {...opts, l01: inProcess ? local : undefined})]
  } catch (err) {
    await l01.close()
    throw err
  }
}

/** L09 on this machine, in front of the L01 at config.gateway.l01Url. Refuses to start on a key mismatch. */
export async function startGateway(config: PlatformConfig, opts: StartOptions = {}): Promise<RunningService> {
  const {buildGateway, L01Client} = await import('../gateway/index.js')
  const l01 =
    opts.l01 ??
    new L01Client({
      baseUrl: config.gateway.l01Url,
      socketPath: config.gateway.l01Socket,
      apiKey: internalKey(config),
      timeoutMs: config.gateway.upstreamTimeoutMs,
    })
  const log = serviceLog(opts.log)
  let app: FastifyInstance
  try {
    await l01.probe()
    app = buildGateway({l01, apiKeys: gatewayKeys(config), version: packageVersion(), logger: log.logger, limits: config.server})
  } catch (err) {
    await l01.close()
    await log.flush()
    throw err
  }
  return serve('l09-api-gateway', app, config.gateway, l01.baseUrl, () => l01.close().finally(log.flush))
}
