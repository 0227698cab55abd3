import {spawn} from 'node:child_process'
import {Flags} from '@oclif/core'
import {nextSignal, type PlatformConfig} from '../core/index.js'
import {style, table} from './output.js'
import type {Progress, SessionInput, SessionResult, Summary} from '../loadtest/index.js'
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
  idempotency: Flags.boolean({description: 'give every create an Idempotency-Key; retry it once with that key after a 503 or no answer'}),
  workers: Flags.integer({description: 'worker threads in each generator', default: 1, min: 1, max: 16}),
  generators: Flags.integer({
    description: 'distributed run: this many generator processes (on this machine, or with --swarm a Swarm service), one merged result',
    min: 1,
    max: 64,
  }),
  swarm: Flags.boolean({
    description: `run the generators as the Swarm service platform-loadgen (one per node unless --generators), against the stack's gateway`,
  }),
  'coordinator-address': Flags.string({
    description:
      'the address of this machine the coordinator listens on and the generators reach (default: 127.0.0.1, on Swarm the node address)',
  }),
  interval: Flags.integer({description: 'seconds between progress lines and time-series points', default: 2, min: 1, hidden: true}),
  'starve-ms': Flags.integer({hidden: true, description: 'test fault injection: block the generator loop this long every 50 ms'}),
  open: Flags.boolean({description: 'open report.html in the browser when the run ends (xdg-open, open)'}),
}

type Parsed = {[K in keyof typeof loadTestFlags]: unknown} & {json?: boolean}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`
const ms = (v: number) => `${v}`
const secs = (s: number) => (s < 60 ? `${Math.floor(s)}s` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`)
const latency = (p: Pick<Progress, 'p50' | 'p95'>) => (p.p95 === null ? 'p50/p95 - (no responses)' : `p50 ${p.p50} ms  p95 ${p.p95} ms`)
const errors = (p: Progress) => `errors ${p.failures} (${pct(p.count ? p.failures / p.count : 0)})`
const worst = (p: Progress) => (p.worst ? `worst ${p.worst.endpoint} p95 ${p.worst.p95} ms, ${pct(p.worst.errorRate)} errors` : 'worst -')
const clip = (line: string, width: number) => (line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line)

/** The live view on a terminal (redrawn in place): a progress bar, then the figures, then the worst endpoint. */
export function liveView(p: Progress, width: number): string[] {
  const done = Math.min(1, p.duration > 0 ? p.elapsed / p.duration : 1)
  const barWidth = Math.max(10, Math.min(40, width - 32))
  const filled = Math.round(done * barWidth)
  const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`
  return [
    `${p.profile} ${bar} ${secs(p.elapsed)} / ${secs(p.duration)} ${String(Math.round(done * 100)).padStart(3)}%`,
    `users ${p.users}/${p.maxUsers}  req/s ${p.rps}  ${latency(p)}  ${errors(p)}`,
    worst(p),
  ].map((l) => clip(l, width))
}

/** One plain progress line, for logs (no terminal). */
export const progressLine = (p: Progress): string =>
  `${secs(p.elapsed)}/${secs(p.duration)}  users ${p.users}/${p.maxUsers}  req/s ${p.rps}  ${latency(p)}  ${errors(p)}  ${worst(p)}`

/** Draws the live view in place on a terminal; lines logged meanwhile go above it. */
class LiveView {
  #lines = 0
  #last?: {p: Progress; at: number}
  #timer?: NodeJS.Timeout
  constructor(readonly out: NodeJS.WriteStream) {}

  update(p: Progress): void {
    this.#last = {p, at: Date.now()}
    this.#draw()
    // Elapsed time moves on between the runner's points.
    this.#timer ??= setInterval(() => this.#draw(), 1000).unref()
  }

  log(line: string): void {
    this.#erase()
    this.out.write(`${line}\n`)
    if (this.#last) this.#draw()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#erase()
    this.#last = undefined
  }

  #draw(): void {
    const {p, at} = this.#last!
    const lines = liveView({...p, elapsed: Math.min(p.duration, p.elapsed + (Date.now() - at) / 1000)}, this.out.columns || 80)
    this.#erase()
    this.out.write(`${lines.join('\n')}\n`)
    this.#lines = lines.length
  }

  #erase(): void {
    if (this.#lines) this.out.write(`\x1b[${this.#lines}A\x1b[0J`)
    this.#lines = 0
  }
}

function render(s: Summary, html: string): string {
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
  if (s.generators?.length) {
    const gens = s.generators.map((g) => [
      g.name,
      g.node ?? '-',
      String(g.count),
      String(g.rps),
      ms(g.p95),
      g.valid ? style.ok('valid') : style.bad(g.lost ? 'lost' : 'INVALID'),
    ])
    out.push('', table(['generator', 'node', 'requests', 'req/s', 'p95 ms', 'validity'], gens))
  }
  if (s.failures.length) {
    out.push('', style.bold('Top failures:'))
    for (const f of s.failures.slice(0, 5))
      out.push(
        `  ${f.count}x ${f.endpoint} ${f.status ?? 'no response'}: ${f.message} (first at ${f.firstSeen.t}s, ${f.firstSeen.users} users)`,
      )
  }
  const failed = s.thresholds.filter((t) => !t.passed)
  if (failed.length) out.push('', style.bold('Failed thresholds:'), ...failed.map((t) => `  ${t.text}`))
  if (s.baseline) out.push('', `Baseline ${s.baseline.file}: ${s.baseline.regressed ? style.bad('regressed') : style.ok('no regression')}`)
  const colour = s.verdict.status === 'PASSED' ? style.ok : style.bad
  out.push('', colour(s.verdict.sentence), `report: ${html}`)
  return out.join('\n')
}

/** Opens a file with the desktop's opener; a sentence saying why not when there is none. */
export function openFile(file: string, opener = process.platform === 'darwin' ? 'open' : 'xdg-open'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(opener, [file], {stdio: 'ignore', detached: true})
    child.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `${opener} is not installed here` : err.message
      resolve(`cannot open the report: ${why}; open ${file} in a browser`)
    })
    child.once('spawn', () => {
      child.unref()
      resolve(undefined)
    })
  })
}

/** test smoke and test load: the verdict decides the exit code. */
export abstract class LoadTestCommand extends PlatformCommand {
  protected override exitCodeFor(r: Summary) {
    return r.verdict.exitCode
  }
}

/**
 * Runs a session for a command and prints its outcome (the verdict's exit code is set by
 * LoadTestCommand). The first Ctrl-C stops the run and still writes its reports (exit 130);
 * a second exits at once.
 */
export async function runLoadTestCommand(
  cmd: PlatformCommand,
  config: PlatformConfig,
  profile: Pick<SessionInput, 'profile' | 'users' | 'spawnRate'>,
  f: Parsed,
) {
  const {runSession} = await import('../loadtest/index.js')
  const quiet = cmd.jsonEnabled()
  const live = !quiet && process.stdout.isTTY ? new LiveView(process.stdout) : undefined
  const say = (l: string) => (live ? live.log(l) : cmd.log(l))
  const interrupt = new AbortController()
  void nextSignal((msg) => (live ? live.log(msg) : cmd.logToStderr(msg))).then((signal) => interrupt.abort(signal))
  let result: SessionResult
  try {
    result = await runSession(
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
        idempotency: Boolean(f.idempotency),
        signal: interrupt.signal,
        generators: f.generators as number | undefined,
        swarm: Boolean(f.swarm),
        coordinatorAddress: f['coordinator-address'] as string | undefined,
      },
      {
        log: (l) => quiet || say(style.dim(l)),
        progress: (p) => quiet || (live ? live.update(p) : cmd.log(progressLine(p))),
      },
      f.swarm ? {swarm: await (await import('../stack/index.js')).createSwarmEngine()} : {},
    )
  } finally {
    live?.stop()
  }
  const {summary, reports} = result
  if (!quiet) cmd.log(render(summary, reports.html))
  if (f.open) {
    const why = await openFile(reports.html)
    if (why) cmd.logToStderr(why)
  }
  return {...summary, reportDir: result.reportDir, report: reports.html, ...(result.junit ? {junit: result.junit} : {})}
}
