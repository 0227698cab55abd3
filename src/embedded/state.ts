import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pidAlive, readFileOr, type PlatformConfig} from '../core/index.js'
import type {EngineInfo} from '../db/index.js'
import type {Topology} from './hosts.js'

/** What a running embedded platform records about itself under .platform/. */
export interface RunState {
  pid: number
  startedAt: string
  topology: Topology
  database: string
  engine?: EngineInfo
  detached: boolean
  logFile?: string
  /** pid: a service in a process of its own (processes topology). */
  services: Array<{name: string; url: string; pid?: number}>
}

/** The service processes of a run that are still alive. */
export const livingServices = (state: RunState): number[] => state.services.flatMap((s) => (s.pid && pidAlive(s.pid) ? [s.pid] : []))

export const runFiles = (config: PlatformConfig) => ({
  pid: join(config.stateDir, 'platform.pid'),
  state: join(config.stateDir, 'platform.json'),
  log: join(config.stateDir, 'platform.log'),
})

export function writeRunState(config: PlatformConfig, state: RunState): void {
  const f = runFiles(config)
  mkdirSync(config.stateDir, {recursive: true})
  writeFileSync(f.state, `${JSON.stringify(state, null, 2)}\n`)
  writeFileSync(f.pid, `${state.pid}\n`)
}

/**
 * The recorded run if its process is alive, or if service processes it started still are
 * (a supervisor killed under the processes topology): those still serve, so the run counts.
 * A record left by a run that is wholly gone is removed.
 */
export function readRunState(config: PlatformConfig): RunState | undefined {
  const f = runFiles(config)
  let state: RunState
  try {
    state = JSON.parse(readFileSync(f.state, 'utf8')) as RunState
  } catch {
    return undefined
  }
  if (pidAlive(state.pid) || livingServices(state).length) return state
  clearRunState(config)
  return undefined
}

export function clearRunState(config: PlatformConfig, onlyPid?: number): void {
  const f = runFiles(config)
  if (onlyPid !== undefined) {
    // Leave a newer run's record alone.
    const recorded = Number.parseInt(readFileOr(f.pid), 10)
    if (recorded && recorded !== onlyPid) return
  }
  rmSync(f.state, {force: true})
  rmSync(f.pid, {force: true})
}
