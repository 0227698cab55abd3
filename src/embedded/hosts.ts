import {spawn} from 'node:child_process'
import {setFlagsFromString} from 'node:v8'
import {PlatformError, startWorker, stopChild, type ErrorCode, type PlatformConfig} from '../core/index.js'
import {startDataLayer, startGateway, type RunningService, type ServiceName} from './services.js'

/**
 * Where a service's event loop runs: in this process's own loop, in a worker thread of
 * its own, or in a child process of its own (`platform serve ...`).
 */
export type Topology = 'inline' | 'threads' | 'processes'
export const TOPOLOGIES: readonly Topology[] = ['inline', 'threads', 'processes']

export interface HostedService extends RunningService {
  /** Resolves with the reason if the service stops by itself (a crash), never on close(). */
  readonly died: Promise<Error>
  /** Its own process (processes topology): what `status` and `down` find if the supervisor dies. */
  readonly pid?: number
}

export interface HostOptions {
  logLevel: string
  /** Where the services append their JSON log lines (else stdout). */
  logFile?: string
  /** The CLI entry for the processes topology (bin/run.js or bin/dev.js). */
  cliEntry?: string
}

const never = new Promise<Error>(() => {})
/**
 * A service's young generation is kept at V8's default maximum (16 MiB semi-spaces) from the
 * start. Left alone, V8 sizes it by the allocation rate: under a light steady load it shrank
 * L09's to 4 MiB and then grew it back over tens of minutes, which a long run reads as
 * memory growth. Capping it small instead costs CPU (an 8 MiB cap doubled the scavenging time
 * per request). A V8 flag, read when an isolate is created: set before the worker threads
 * start, and on the command line of a service's own process.
 */
const YOUNG_SPACE_FLAG = '--min-semi-space-size=16'
const CLOSE_GRACE_MS = 10_000

function inline(name: ServiceName, config: PlatformConfig, opts: HostOptions): Promise<HostedService> {
  const start = name === 'l01-data-layer' ? startDataLayer : startGateway
  return start(config, {log: {level: opts.logLevel, file: opts.logFile}}).then((s) => ({...s, died: never}))
}

function inWorker(name: ServiceName, config: PlatformConfig, opts: HostOptions): Promise<HostedService> {
  setFlagsFromString(YOUNG_SPACE_FLAG)
  const worker = startWorker(import.meta.url, 'worker', {workerData: {name, config, log: {level: opts.logLevel, file: opts.logFile}}})
  let closing = false
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve))
  return new Promise((resolve, reject) => {
    worker.once('error', reject)
    exit.then((code) => reject(new PlatformError('INTERNAL', `${name} worker exited (code ${code}) before it was ready`)))
    worker.once('message', (msg: {type: string; url: string; backend: string; code: ErrorCode; message: string; suggestion?: string}) => {
      if (msg.type === 'error') return reject(new PlatformError(msg.code, msg.message, {suggestion: msg.suggestion}))
      resolve({
        name,
        url: msg.url,
        backend: msg.backend,
        died: exit.then((code) => (closing ? never : new Error(`${name} worker exited unexpectedly (code ${code})`))),
        async close() {
          closing = true
          worker.postMessage('close')
          const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS)
          await exit
          clearTimeout(timer)
        },
      })
    })
  })
}

function inProcess(name: ServiceName, config: PlatformConfig, opts: HostOptions): Promise<HostedService> {
  if (!opts.cliEntry) throw new PlatformError('INTERNAL', 'the processes topology needs the CLI entry')
  const addr = name === 'l01-data-layer' ? config.dataLayer : config.gateway
  const args = [
    'serve',
    name === 'l01-data-layer' ? 'data-layer' : 'gateway',
    '--host',
    addr.host,
    '--port',
    String(addr.port),
    '--log-level',
    opts.logLevel,
  ]
  if (opts.logFile) args.push('--log-file', opts.logFile)
  if (name === 'l09-api-gateway') args.push('--l01-url', config.gateway.l01Url, '--timeout', String(config.gateway.upstreamTimeoutMs))
  const env = {
    ...process.env,
    PLATFORM_STATE_DIR: config.stateDir,
    PLATFORM_DATA_DIR: config.dataDir,
    ...(config.databaseUrl ? {DATABASE_URL: config.databaseUrl} : {}),
  }
  const child = spawn(process.execPath, [...process.execArgv, YOUNG_SPACE_FLAG, opts.cliEntry, ...args], {
    cwd: config.root,
    env,
    stdio: ['ignore', 'inherit', 'pipe'],
  })
  let stderr = ''
  let closing = false
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk
      process.stderr.write(chunk)
      const m = /listening on (http:\/\/\S+) \((?:database|L01): ([^)]*)\)/.exec(stderr)
      if (m) {
        stderr = ''
        resolve({
          name,
          url: m[1]!,
          backend: m[2]!,
          pid: child.pid,
          died: exit.then((code) => (closing ? never : new Error(`${name} process exited unexpectedly (code ${code})`))),
          async close() {
            closing = true
            await stopChild(child, CLOSE_GRACE_MS)
          },
        })
      }
    })
    exit.then((code) => {
      const line = stderr.split('\n').find((l) => l.startsWith('Error: '))
      const kind: ErrorCode = code === 2 ? 'CONFIG_INVALID' : code === 3 ? 'ENVIRONMENT_UNAVAILABLE' : 'INTERNAL'
      reject(new PlatformError(kind, line ? line.slice(7) : `${name} exited (code ${code}) before it was ready`))
    })
  })
}

export function startHosted(name: ServiceName, config: PlatformConfig, topology: Topology, opts: HostOptions): Promise<HostedService> {
  return {inline, threads: inWorker, processes: inProcess}[topology](name, config, opts)
}
