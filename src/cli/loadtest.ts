import {Flags} from '@oclif/core'
import {style, table, type PlatformConfig} from '../core/index.js'
import type {SessionInput, Summary} from '../loadtest/index.js'
import {PlatformCommand, durationFlag} from './command.js'

/** The flags `test smoke` and `test load` share. */
export const loadTestFlags = {
  target: Flags.string({description: 'L09 base URL (default: start the embedded platform, run against it, stop it)'}),
  'api-key': Flags.string({description: 'API key for the target (default: $PLATFORM_API_KEY, else .platform/api.key)'}),
  duration: durationFlag({description: 'override the profile duration, e.g. 10s, 5m'}),
  // Non-greedy: `--threshold p95<300 normal` leaves `normal` to the profile argument.
  threshold: Flags.string({
    description: 'pass condition, repeatable: p95<500, p99<1s, errors<1%, "PATCH /api/v1/agents/:id p95<300"',
    multiple: true,
    multipleNonGreedy: true,
  }),
  report: Flags.string({description: 'report directory (default reports/<profile>-<timestamp>/)'}),
  junit: Flags.string({description: 'also write JUnit XML to this file'}),
  baseline: Flags.string({description: 'summary.json of an earlier run: exit 4 if this run regressed beyond --tolerance'}),
  tolerance: Flags.integer({description: 'allowed regression against --baseline, in percent', default: 20, min: 0}),
  'abort-on-fail': Flags.boolean({description: 'stop as soon as a threshold is certain to fail'}),
  seed: Flags.integer({description: 'seed for reproducible payloads and choices'}),
  rate: Flags.integer({description: 'open model: this many requests per second at fixed arrival times', min: 1}),
  workers: Flags.integer({description: 'generator worker threads', default: 1, min: 1, max: 16}),
  interval: Flags.integer({description: 'seconds between progress lines and time-series points', default: 2, min: 1, hidden: true}),
  'starve-ms': Flags.integer({hidden: true, description: 'test fault injection: block the generator loop this long every 50 ms'}),
}

type Parsed = {[K in keyof typeof loadTestFlags]: unknown} & {json?: boolean}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`
const ms = (v: number) => `${v}`

function render(s: Summary, reportDir: string): string {
  const rows = [...s.endpoints, {endpoint: 'total', ...s.total}].map((e) => [
    e.endpoint === 'total' ? style.bold('total') : e.endpoint,
    String(e.count),
    String(e.failures),
    pct(e.errorRate),
    String(e.rps),
    ms(e.p50),
    ms(e.p95),
    ms(e.p99),
    ms(e.max),
  ])
  const out = [table(['endpoint', 'requests', 'failures', 'errors', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], rows)]
  if (s.failures.length) {
    out.push('', style.bold('Top failures:'))
    for (const f of s.failures.slice(0, 5)) out.push(`  ${f.count}x ${f.endpoint} ${f.status ?? 'no response'}: ${f.message} (first at ${f.firstSeen.t}s, ${f.firstSeen.users} users)`)
  }
  const failed = s.thresholds.filter((t) => !t.passed)
  if (failed.length) out.push('', style.bold('Failed thresholds:'), ...failed.map((t) => `  ${t.text}`))
  if (s.baseline) out.push('', `Baseline ${s.baseline.file}: ${s.baseline.regressed ? style.bad('regressed') : style.ok('no regression')}`)
  const colour = s.verdict.status === 'PASSED' ? style.ok : style.bad
  out.push('', colour(s.verdict.sentence), style.dim(`reports: ${reportDir}`))
  return out.join('\n')
}

/** test smoke and test load: the verdict decides the exit code. */
export abstract class LoadTestCommand extends PlatformCommand {
  protected override exitCodeFor(r: Summary) {
    return r.verdict.exitCode
  }
}

/** Runs a session for a command and prints its outcome. */
export async function runLoadTestCommand(
  cmd: PlatformCommand,
  config: PlatformConfig,
  profile: Pick<SessionInput, 'profile' | 'users' | 'spawnRate'>,
  f: Parsed,
) {
  const {runSession} = await import('../loadtest/index.js')
  const quiet = cmd.jsonEnabled()
  const result = await runSession(
    config,
    {
      ...profile,
      target: f.target as string | undefined,
      apiKey: f['api-key'] as string | undefined,
      // the session reads a profile duration as text; a bare number is seconds
      duration: f.duration === undefined ? undefined : String(f.duration),
      thresholds: (f.threshold as string[] | undefined) ?? [],
      report: f.report as string | undefined,
      junit: f.junit as string | undefined,
      baseline: f.baseline as string | undefined,
      tolerance: (f.tolerance as number) / 100,
      abortOnFail: Boolean(f['abort-on-fail']),
      seed: f.seed as number | undefined,
      rate: f.rate as number | undefined,
      workers: f.workers as number,
      intervalS: f.interval as number,
      starveMs: f['starve-ms'] as number | undefined,
    },
    {
      log: (l) => quiet || cmd.log(style.dim(l)),
      progress: (p, t) =>
        quiet ||
        cmd.log(`${String(Math.round(p.t)).padStart(5)}s  users ${String(p.users).padStart(5)}  req/s ${String(p.rps).padStart(7)}  p95 ${String(p.p95).padStart(6)} ms  errors ${pct(t.count ? t.failures / t.count : 0)}`),
    },
  )
  if (!quiet) cmd.log(render(result.summary, result.reportDir))
  return {...result.summary, reportDir: result.reportDir, ...(result.junit ? {junit: result.junit} : {})}
}
