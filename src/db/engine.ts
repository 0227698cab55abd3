/**
 * Which database the platform uses, in one rule: DATABASE_URL when set; else the engine
 * configured (database.engine, --db); else the PGlite data a project already has; else the
 * embedded PostgreSQL, or PGlite where its binaries cannot run.
 */
import {existsSync} from 'node:fs'
import {join, relative} from 'node:path'
import type {PlatformConfig} from '../core/index.js'
import {
  clusterDir,
  clusterExists,
  ensureCluster,
  findPgBinaries,
  postmasterOf,
  postgresVersion,
  superviseCluster,
  type PgBinaries,
  type RunningCluster,
} from './cluster.js'
import {openDb} from './open.js'
import {describeUrl} from './pg.js'
import type {Db} from './types.js'

export type EngineName = 'postgres' | 'pglite'
export const ENGINES: readonly EngineName[] = ['postgres', 'pglite']

export type EngineChoice =
  | {engine: 'external'; url: string}
  | {engine: 'postgres'; bins: PgBinaries; dir: string}
  | {engine: 'pglite'; dataDir: string; note?: string}

/** What status shows of the database. */
export interface EngineInfo {
  engine: 'external' | 'postgres' | 'pglite'
  /** For people: "embedded PostgreSQL 17.10 in .platform/postgres on port 40123". */
  description: string
  version?: string
  dataDir?: string
  port?: number
}

const hasPgliteData = (dataDir: string) => existsSync(join(dataDir, 'PG_VERSION'))

export function chooseEngine(config: PlatformConfig, env: NodeJS.ProcessEnv = process.env): EngineChoice {
  if (config.databaseUrl) return {engine: 'external', url: config.databaseUrl}
  const dir = clusterDir(config.stateDir)
  if (config.dbEngine === 'pglite') return {engine: 'pglite', dataDir: config.dataDir}
  if (!config.dbEngine && hasPgliteData(config.dataDir) && !clusterExists(dir)) {
    return {
      engine: 'pglite',
      dataDir: config.dataDir,
      note: `using the PGlite data in ${shown(config, config.dataDir)} (database.engine: postgres switches; see the README)`,
    }
  }
  const bins = findPgBinaries(env)
  if (bins) return {engine: 'postgres', bins, dir}
  return {
    engine: 'pglite',
    dataDir: config.dataDir,
    note: `the embedded PostgreSQL cannot run here (no binaries for ${process.platform}-${process.arch}): using PGlite`,
  }
}

/** A path relative to the project root when it lies inside it. */
function shown(config: PlatformConfig, path: string): string {
  const rel = relative(config.root, path)
  return rel && !rel.startsWith('..') ? rel : path
}

export function clusterInfo(config: PlatformConfig, cluster: Pick<RunningCluster, 'version' | 'dir' | 'port'>): EngineInfo {
  return {
    engine: 'postgres',
    description: `embedded PostgreSQL ${cluster.version} in ${shown(config, cluster.dir)} on port ${cluster.port}`,
    version: cluster.version,
    dataDir: cluster.dir,
    port: cluster.port,
  }
}

export function engineInfo(config: PlatformConfig, choice: EngineChoice): EngineInfo {
  if (choice.engine === 'external') return {engine: 'external', description: describeUrl(choice.url)}
  if (choice.engine === 'pglite')
    return {engine: 'pglite', description: `PGlite in ${shown(config, choice.dataDir)}`, dataDir: choice.dataDir}
  return {engine: 'postgres', description: `embedded PostgreSQL in ${shown(config, choice.dir)} (not running)`, dataDir: choice.dir}
}

/** The configuration the services open: with the embedded cluster running, its URL. */
export interface ResolvedDatabase {
  config: PlatformConfig
  info: EngineInfo
  /** A line for people when the choice was not the default (a fallback, existing data). */
  note?: string
  /** Stops the embedded cluster if this process owns it. */
  release(): Promise<void>
}

export interface ResolveOptions {
  onStep?: (step: string) => void
  /** `up` owns the cluster (stops it on down); other commands only stop what they started. */
  own?: boolean
  /** With own: told when the supervisor started a postmaster that had died (err: it could not). */
  onRestart?: (err?: Error) => void
  /** Do not create a database that does not exist yet (read-only commands). */
  existingOnly?: boolean
  env?: NodeJS.ProcessEnv
}

/** undefined only with existingOnly, when there is no database yet. */
export async function resolveDatabase(config: PlatformConfig, opts?: ResolveOptions & {existingOnly?: false}): Promise<ResolvedDatabase>
export async function resolveDatabase(
  config: PlatformConfig,
  opts: ResolveOptions & {existingOnly: true},
): Promise<ResolvedDatabase | undefined>
export async function resolveDatabase(config: PlatformConfig, opts: ResolveOptions = {}): Promise<ResolvedDatabase | undefined> {
  const choice = chooseEngine(config, opts.env)
  const none = async () => {}
  if (choice.engine === 'external') return {config, info: engineInfo(config, choice), release: none}
  if (choice.engine === 'pglite') {
    if (opts.existingOnly && !hasPgliteData(choice.dataDir)) return undefined
    return {config: {...config, databaseUrl: undefined}, info: engineInfo(config, choice), note: choice.note, release: none}
  }
  if (opts.existingOnly && !clusterExists(choice.dir)) return undefined
  const cluster = await ensureCluster({
    stateDir: config.stateDir,
    bins: choice.bins,
    onStep: opts.onStep,
    own: opts.own,
    avoid: [config.dataLayer.port, config.gateway.port],
  })
  // The owner keeps it running: a postmaster that dies under `up` is started again.
  const unwatch = opts.own
    ? superviseCluster({stateDir: config.stateDir, bins: choice.bins, port: cluster.port, onRestart: opts.onRestart})
    : () => {}
  const release = async () => {
    unwatch()
    await cluster.release()
  }
  return {config: {...config, databaseUrl: cluster.url}, info: clusterInfo(config, cluster), release}
}

export type OpenedDatabase = Db & {info: EngineInfo; note?: string}

/** The database a command works on, opened; closing it also releases the cluster it started. */
export async function openDatabase(config: PlatformConfig, opts?: ResolveOptions & {existingOnly?: false}): Promise<OpenedDatabase>
export async function openDatabase(config: PlatformConfig, opts: ResolveOptions & {existingOnly: true}): Promise<OpenedDatabase | undefined>
export async function openDatabase(config: PlatformConfig, opts: ResolveOptions = {}): Promise<OpenedDatabase | undefined> {
  const resolved = opts.existingOnly
    ? await resolveDatabase(config, {...opts, existingOnly: true})
    : await resolveDatabase(config, {...opts, existingOnly: false})
  if (!resolved) return undefined
  let db: Db
  try {
    db = await openDb(resolved.config)
  } catch (err) {
    await resolved.release()
    throw err
  }
  return {
    ...db,
    info: resolved.info,
    note: resolved.note,
    location: resolved.info.description,
    close: async () => {
      try {
        await db.close()
      } finally {
        await resolved.release()
      }
    },
  }
}

/** The embedded cluster's state for status, without starting it. */
export async function embeddedClusterInfo(config: PlatformConfig, env: NodeJS.ProcessEnv = process.env): Promise<EngineInfo | undefined> {
  const choice = chooseEngine(config, env)
  if (choice.engine !== 'postgres') return undefined
  const pm = postmasterOf(choice.dir)
  if (!pm) return engineInfo(config, choice)
  return clusterInfo(config, {dir: choice.dir, port: pm.port, version: await postgresVersion(choice.bins)})
}
