import {mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {PlatformError, apiKeyPath, gatewayKeys, pollUntil, probeReady, type PlatformConfig, type Readiness} from '../core/index.js'
import {clusterDir} from '../db/index.js'
import {runningPlatform, startPlatform} from '../embedded/index.js'
import {resolveProfile, type ProfileInput} from './profiles.js'
import {readSummary, renderJunit, writeReports} from './reports.js'
import {runLoad} from './runner.js'
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
}

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

/** Health and key, before any load: a run against a dead target or with a wrong key stops in seconds. */
export async function preflight(target: string, apiKey: string): Promise<void> {
  const base = target.replace(/\/+$/, '')
  let ready: Readiness = {healthy: false, detail: 'not asked'}
  await pollUntil(async () => ((ready = await probeReady(base, 3000)).healthy ? ready : undefined), {attempts: 3, everyMs: 500})
  if (!ready.healthy) {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `the target ${base} is not ready: ${ready.detail}`, {
      suggestion: 'start it (platform up) or check --target',
    })
  }
  const probe = await fetch(`${base}/api/v1/agents/?limit=1`, {headers: {'x-api-key': apiKey}, signal: AbortSignal.timeout(5000)})
  await probe.arrayBuffer()
  if (probe.status === 401) {
    throw new PlatformError('UNAUTHORIZED', `the target ${base} refused the API key`, {
      suggestion: 'pass the right key with --api-key or PLATFORM_API_KEY',
    })
  }
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

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z')

/**
 * One load test as the CLI runs it: checks the input, finds or starts the target,
 * preflights it, runs, judges, and writes the reports.
 */
export async function runSession(config: PlatformConfig, input: SessionInput, io: SessionIO): Promise<SessionResult> {
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

  const t = input.target
    ? {target: input.target.replace(/\/+$/, ''), apiKey: configuredKey(config, input.apiKey), stop: async () => {}}
    : await embeddedTarget(config, log).catch((err: unknown) => {
        // Ctrl-C on a terminal reaches the processes that start the database too: report the interruption, not their deaths.
        interruptedBefore(input.signal)
        throw err
      })
  let summary: Summary
  try {
    interruptedBefore(input.signal)
    await preflight(t.target, t.apiKey)
    interruptedBefore(input.signal)
    const model = input.rate ? `, open model at ${input.rate} req/s` : ''
    const retries = input.idempotency ? ', creates with an Idempotency-Key (retried once after a 503 or no answer)' : ''
    log(`${profile.name}: ${profile.users} users at ${profile.spawnRate}/s for ${profile.durationS}s${model}, seed ${seed}${retries}`)
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
      onPoint: (p, progress) => {
        lines.push(`${p.t}s users=${p.users} rps=${p.rps} p95=${p.p95 ?? '-'}ms errors=${p.errors}`)
        io.progress(progress)
      },
    })
  } finally {
    await t.stop()
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
