import {mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {PlatformError, apiKeyPath, gatewayKeys, type PlatformConfig} from '../core/index.js'
import {preflight} from './preflight.js'
import {clusterDir} from '../db/index.js'
import {STACK, type SwarmEngine} from '../stack/index.js'
import {runningPlatform, startPlatform} from '../embedded/index.js'
import {resolveProfile, type ProfileInput} from './profiles.js'
import {readSummary, renderJunit, writeReports} from './reports.js'
import {runLoad} from './runner.js'
import {distributedFleet, processLauncher, swarmCoordinatorAddress, swarmLauncher, type DistributedFleet} from './distributed.js'
import contract from './scenarios/contract.js'
import {effectiveThresholds, parseThreshold} from './thresholds.js'
import type {Progress, Summary} from './types.js'

export interface SessionInput extends ProfileInput {
  target?: string
  apiKey?: string
  thresholds: string[]
  report?: string
  junit?: string
  baseline?: string
  /** allowed regression against the baseline, a fraction */
  tolerance: number
  abortOnFail: boolean
  seed?: number
  rate?: number
  workers?: number
  intervalS?: number
  starveMs?: number
  /** creates carry an Idempotency-Key and are retried once after a 503 or no answer */
  idempotency?: boolean
  /** aborted on Ctrl-C: the run stops, its reports say so, and the throwaway platform goes */
  signal?: AbortSignal
  /** a distributed run: this many generator processes, talking to a coordinator in this process */
  generators?: number
  /** the generators run as a Swarm service (one per ready node unless generators says) */
  swarm?: boolean
  /** the address the coordinator listens on and gives the generators */
  coordinatorAddress?: string
}

/** The clients a session may need: the Swarm engine for generators on Swarm. */
export interface SessionDeps {
  swarm?: SwarmEngine
}

/** The stack's gateway as a generator on the stack's network reaches it: every replica by Swarm's DNS. */
export const SWARM_TARGET = 'http://tasks.l09-api-gateway:8009'

export interface SessionIO {
  /** a line for people (also kept in run.log) */
  log(line: string): void
  progress(p: Progress): void
}

export interface SessionResult {
  summary: Summary
  reportDir: string
  /** the report files written */
  reports: Awaited<ReturnType<typeof writeReports>>
  junit?: string
}

/** The embedded platform for this run: the one already running here, else a throwaway one. */
async function embeddedTarget(
  config: PlatformConfig,
  log: (l: string) => void,
): Promise<{target: string; apiKey: string; stop: () => Promise<void>}> {
  const running = await runningPlatform(config)
  const gateway = running?.services.find((s) => s.name === 'l09-api-gateway')
  if (running && gateway?.url) {
    log(`target: the running embedded platform at ${gateway.url}`)
    return {target: gateway.url, apiKey: gatewayKeys(config)[0]!, stop: async () => {}}
  }
  // A fresh state directory: load-test rows never land in the project's own database.
  const stateDir = mkdtempSync(join(tmpdir(), 'platform-loadtest-'))
  // Removed on every way out, a forced exit (a second Ctrl-C) included, with the embedded
  // PostgreSQL's cluster, which lives outside the state directory when the postgres user cannot reach it.
  const dirs = [stateDir, clusterDir(stateDir)]
  const remove = () => {
    for (const d of dirs) rmSync(d, {recursive: true, force: true})
  }
  process.once('exit', remove)
  const removeNow = () => {
    remove()
    process.off('exit', remove)
  }
  const ephemeral: PlatformConfig = {
    ...config,
    stateDir,
    dataDir: join(stateDir, 'data'),
    dataLayer: {...config.dataLayer, port: 0},
    gateway: {...config.gateway, port: 0},
  }
  let platform: Awaited<ReturnType<typeof startPlatform>>
  try {
    platform = await startPlatform(ephemeral, 'threads', {logLevel: 'silent'})
  } catch (err) {
    removeNow()
    throw err
  }
  const url = platform.state.services.find((s) => s.name === 'l09-api-gateway')!.url
  log(`target: a new embedded platform (${config.databaseUrl ? 'DATABASE_URL' : `${platform.state.database}, a temporary directory`})`)
  return {
    target: url,
    apiKey: gatewayKeys(ephemeral)[0]!,
    stop: async () => {
      try {
        await platform.close()
      } finally {
        removeNow()
      }
    },
  }
}

function configuredKey(config: PlatformConfig, given?: string): string {
  if (given) return given
  if (process.env.PLATFORM_API_KEY) return process.env.PLATFORM_API_KEY
  const file = apiKeyPath(config)
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  throw new PlatformError('USAGE', 'no API key for the target', {suggestion: 'pass --api-key or set PLATFORM_API_KEY'})
}

/** Ctrl-C before the load started: nothing ran, so there is nothing to report. */
function interruptedBefore(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new PlatformError('INTERRUPTED', `interrupted by ${String(signal.reason)} before the load started; nothing ran`)
  }
}

/**
 * A run whose generators Swarm schedules: against the stack's gateway (or --target) from its
 * network, the generators running the stack's own app image, one per ready node by default.
 */
async function swarmRun(config: PlatformConfig, input: SessionInput, deps: SessionDeps, log: (l: string) => void) {
  const swarm = deps.swarm
  if (!swarm) throw new PlatformError('INTERNAL', 'a run on Swarm needs the Swarm engine')
  const info = await swarm.info()
  if (info.state !== 'active' || !info.manager) {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `the Docker engine at ${swarm.host} is not a swarm manager (${info.state})`, {
      suggestion: 'run on a manager of the swarm, or make one: platform up --swarm --init',
    })
  }
  const gateway = (await swarm.services(STACK)).find((s) => s.name === 'l09-api-gateway')
  if (!gateway) {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `no stack ${STACK} on this swarm: the generators run its app image`, {
      suggestion: 'deploy it first: platform up --swarm',
    })
  }
  const nodes = (await swarm.nodes()).filter((n) => n.state === 'ready')
  const generators = input.generators ?? Math.max(1, nodes.length)
  log(`target: ${input.target ?? `the stack's gateway replicas (${SWARM_TARGET})`}`)
  return {
    generators,
    address: input.coordinatorAddress ?? swarmCoordinatorAddress(info.nodeAddr),
    launcher: swarmLauncher(swarm, {image: gateway.image, network: `${STACK}_default`, log}),
    target: {target: (input.target ?? SWARM_TARGET).replace(/\/+$/, ''), apiKey: configuredKey(config, input.apiKey), stop: async () => {}},
  }
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z')

/**
 * One load test as the CLI runs it: checks the input, finds or starts the target,
 * preflights it, runs, judges, and writes the reports.
 */
export async function runSession(
  config: PlatformConfig,
  input: SessionInput,
  io: SessionIO,
  deps: SessionDeps = {},
): Promise<SessionResult> {
  const profile = resolveProfile(input)
  const scenario = contract
  const thresholds = effectiveThresholds(input.thresholds.map((t) => parseThreshold(t, scenario.endpoints)))
  const baseline = input.baseline
    ? {file: resolve(input.baseline), summary: readSummary(resolve(input.baseline)), tolerance: input.tolerance}
    : undefined
  const seed = input.seed ?? Math.floor(Math.random() * 2 ** 31)
  const lines: string[] = []
  const log = (l: string) => {
    lines.push(l)
    io.log(l)
  }

  const onSwarm = input.swarm ? await swarmRun(config, input, deps, log) : undefined
  const t = onSwarm
    ? onSwarm.target
    : input.target
      ? {target: input.target.replace(/\/+$/, ''), apiKey: configuredKey(config, input.apiKey), stop: async () => {}}
      : await embeddedTarget(config, log).catch((err: unknown) => {
          // Ctrl-C on a terminal reaches the processes that start the database too: report the interruption, not their deaths.
          interruptedBefore(input.signal)
          throw err
        })
  let summary: Summary
  let fleet: DistributedFleet | undefined
  try {
    interruptedBefore(input.signal)
    // Generators on Swarm check the target from where they run; this machine may not reach it by that name.
    if (!onSwarm) await preflight(t.target, t.apiKey)
    interruptedBefore(input.signal)
    const model = input.rate ? `, open model at ${input.rate} req/s` : ''
    const retries = input.idempotency ? ', creates with an Idempotency-Key (retried once after a 503 or no answer)' : ''
    log(`${profile.name}: ${profile.users} users at ${profile.spawnRate}/s for ${profile.durationS}s${model}, seed ${seed}${retries}`)
    const generators = onSwarm?.generators ?? input.generators
    if (generators) {
      fleet = await distributedFleet({
        generators,
        address: input.coordinatorAddress ?? onSwarm?.address ?? '127.0.0.1',
        intervalS: input.intervalS ?? 2,
        launcher: onSwarm?.launcher ?? processLauncher(),
        log,
      })
    }
    summary = await runLoad({
      target: t.target,
      apiKey: t.apiKey,
      profile,
      scenario,
      seed,
      thresholds,
      abortOnFail: input.abortOnFail,
      rate: input.rate,
      workers: input.workers,
      intervalS: input.intervalS,
      baseline,
      starveMs: input.starveMs,
      idempotency: input.idempotency,
      signal: input.signal,
      ...(fleet ? {fleet: fleet.fleet} : {}),
      onPoint: (p, progress) => {
        lines.push(`${p.t}s users=${p.users} rps=${p.rps} p95=${p.p95 ?? '-'}ms errors=${p.errors}`)
        io.progress(progress)
      },
    })
    for (const g of summary.generators ?? []) {
      log(`${g.name} on ${g.node ?? 'this machine'}: ${g.count} requests, ${g.rps} req/s, p95 ${g.p95} ms${g.valid ? '' : ', INVALID'}`)
    }
  } finally {
    try {
      await fleet?.close()
    } finally {
      await t.stop()
    }
  }
  // The caller shows the verdict with the summary; run.log keeps it too.
  lines.push(summary.verdict.sentence)
  const reportDir = resolve(input.report ?? join(config.root, 'reports', `${profile.name}-${stamp(new Date(summary.startedAt))}`))
  const reports = await writeReports(reportDir, summary, lines)
  let junit: string | undefined
  if (input.junit) {
    junit = resolve(input.junit)
    mkdirSync(dirname(junit), {recursive: true})
    writeFileSync(junit, renderJunit(summary))
  }
  return {summary, reportDir, reports, junit}
}
