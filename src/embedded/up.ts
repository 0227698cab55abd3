/**
 * `platform up` on the embedded default: report a platform that already runs, make the
 * keys, then start in the background (a detached `up --child`) or in the foreground until
 * a signal, or until a service dies.
 */
import {fileSize, gatewayKeys, internalKey, nextSignal, type PlatformConfig, type PlatformStatus} from '../core/index.js'
import type {Topology} from './hosts.js'
import {platformStatus, runningPlatform, startDetached, startPlatform} from './platform.js'
import {runFiles} from './state.js'

export interface UpOptions {
  topology: Topology
  logLevel: string
  /** Start in the background and return once it is ready. */
  detach: boolean
  /** This is the detached process itself. */
  child: boolean
  /** Extra arguments for the detached process (e.g. --db). */
  childArgs: string[]
  waitTimeoutMs: number
  /** bin/run.js or bin/dev.js: what the detached process and the processes topology run. */
  cliEntry: string
}

/** What `up` tells the command as it goes, for it to print. */
export interface UpEvents {
  step(step: string): void
  note(line: string): void
  /** A signal, a dying service. */
  warn(line: string): void
  /** Foreground: the platform is ready; the log file, and where this run's lines begin in it. */
  ready(status: PlatformStatus, log: {file: string; offset: number}): void
}

export type UpResult =
  | {outcome: 'already-running'; status: PlatformStatus; healthy: boolean}
  | {outcome: 'detached'; status: PlatformStatus}
  | {outcome: 'stopped'; status?: PlatformStatus; exitCode: number}

export async function up(config: PlatformConfig, opts: UpOptions, events: UpEvents): Promise<UpResult> {
  const running = await runningPlatform(config)
  if (running) return {outcome: 'already-running', status: running, healthy: running.services.every((s) => s.health === 'healthy')}
  // Made here once, before any service reads them.
  gatewayKeys(config)
  internalKey(config)

  if (opts.detach) {
    const args = ['--child', '--topology', opts.topology, '--log-level', opts.logLevel, ...opts.childArgs]
    return {outcome: 'detached', status: await startDetached(config, args, {cliEntry: opts.cliEntry, timeoutMs: opts.waitTimeoutMs})}
  }

  // Listening for signals starts before anything does, so a Ctrl-C during the start is kept.
  let signalled = false
  const signal = nextSignal(events.warn).then((s) => {
    signalled = true
    return s
  })
  const logFile = runFiles(config).log
  const offset = fileSize(logFile)
  const platform = await startPlatform(config, opts.topology, {
    logLevel: opts.logLevel,
    logFile,
    cliEntry: opts.cliEntry,
    detached: opts.child,
    onStep: events.step,
    onNote: events.note,
  })
  let exitCode = 0
  let status: PlatformStatus | undefined
  if (!signalled) {
    status = await platformStatus(config)
    events.ready(status, {file: logFile, offset})
  }
  const died = platform.died.then((err) => {
    events.warn(`${err.message}: stopping the platform`)
    exitCode = 1
  })
  await Promise.race([signal, died])
  try {
    await platform.close()
  } catch (err) {
    events.warn(`shutdown failed: ${(err as Error).message}`)
    exitCode = 1
  }
  return {outcome: 'stopped', status, exitCode}
}
