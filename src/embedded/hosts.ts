import {spawn} from 'node:child_process'
import {setFlagsFromString} from 'node:v8'
import {PlatformError, startWorker, stopChild, type ErrorCode, type PlatformConfig} from '../core/index.js'
import {startBoth, type RunningService, type ServiceName} from './services.js'

export {TOPOLOGIES, type Topology} from '../core/index.js'

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

type Ready = {type: string; services: Array<{url: string; backend: string}>; code: ErrorCode; message: string; suggestion?: string}

/** Services in one worker thread of their own: one service (threads), or both (shared). Closing any closes the worker. */
function inWorker(names: ServiceName[], config: PlatformConfig, opts: HostOptions, inProcess = false): Promise<HostedService[]> {
  setFlagsFromString(YOUNG_SPACE_FLAG)
  const log = {level: opts.logLevel, file: opts.logFile}
  const worker = startWorker(import.meta.url, 'worker', {workerData: {names, config, log, inProcess}})
  let closing = false
  let closed: Promise<void> | undefined
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve))
  const close = () =>
    (closed ??= (async () => {
      closing = true
      worker.postMessage('close')
      const timer = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS)
      await exit
      clearTimeout(timer)
    })())
  const what = names.join(' and ')
  return new Promise((resolve, reject) => {
    worker.once('error', reject)
    exit.then((code) => reject(new PlatformError('INTERNAL', `${what} worker exited (code ${code}) before it was ready`)))
    worker.once('message', (msg: Ready) => {
      if (msg.type === 'error') return reject(new PlatformError(msg.code, msg.message, {suggestion: msg.suggestion}))
      const died = exit.then((code) => (closing ? never : new Error(`${what} worker exited unexpectedly (code ${code})`)))
      resolve(names.map((name, i) => ({name, url: msg.services[i]!.url, backend: msg.services[i]!.backend, died, close})))
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

/** One service on its own: in a worker thread of its own (threads) or a child process of its own (processes). */
export async function startHosted(
  name: ServiceName,
  config: PlatformConfig,
  topology: 'threads' | 'processes',
  opts: HostOptions,
): Promise<HostedService> {
  return topology === 'threads' ? (await inWorker([name], config, opts))[0]! : inProcess(name, config, opts)
}

/**
 * L01 and L09 in one event loop (inline: this process's; shared: a worker thread's), L09
 * calling L01 in-process when inProcess (it was not pointed at another L01).
 */
export async function startTogether(
  config: PlatformConfig,
  topology: 'inline' | 'shared',
  opts: HostOptions,
  inProcess: boolean,
): Promise<[HostedService, HostedService]> {
  if (topology === 'shared')
    return (await inWorker(['l01-data-layer', 'l09-api-gateway'], config, opts, inProcess)) as [HostedService, HostedService]
  const both = await startBoth(config, {log: {level: opts.logLevel, file: opts.logFile}}, inProcess)
  return both.map((s) => ({...s, died: never})) as [HostedService, HostedService]
}
