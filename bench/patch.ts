/**
 * What the safety of `platform patch apply` costs, with the BUILT CLI (bin/run.js; `npm run
 * build` first if dist/ is missing): a patch of 1 file and of 50 files (copy + restart +
 * health gate) into a busybox httpd container with a Docker healthcheck (every 1 s), against
 * what an operator does by hand: `docker cp` of the same files (one call: the file, or the
 * directory's contents), `docker restart`, then `docker inspect` every --poll-ms until the
 * container is healthy by a health check run after the restart. Both sides time the whole
 * command from its start, in one run, alternating which goes first, for --rounds rounds;
 * medians and the ratio per size are reported, target <= 1.3. The container (its own compose
 * project, so the CLI needs --force) and the temp dirs are removed at the end. Exit 1 only
 * when the run failed (a patch or the container did not come back healthy).
 *
 * The Docker engine: DOCKER_HOST or the default socket when it answers, else the tests'
 * private dockerd (test/support/docker.ts, as root), with its offline busybox image.
 *
 *   node --import tsx bench/patch.ts [--rounds 3] [--poll-ms 250] [--json]
 */

import {randomBytes} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {buildTestImages, docker, startDockerd} from '../test/support/docker.js'
import {benchArgs, builtCli, fmt, freePort, log, median, onCleanup, ROOT, runBench, sleep, table, tempDir} from './lib.js'

const TARGET_RATIO = 1.3
const SIZES = [1, 50] as const
const args = benchArgs({rounds: 3, 'poll-ms': 250})
let RUN_JS = join(ROOT, 'bin', 'run.js')

interface Health {
  state: string
  health?: string
  startedAt: string
  lastCheckEnd?: string
}

await runBench(async () => {
  RUN_JS = join(builtCli(['dist/commands/patch/apply.js', 'dist/src/patch/apply.js']), 'bin', 'run.js')
  const dockerd = await startDockerd()
  onCleanup(() => dockerd.stop())
  const host = dockerd.host
  const {busybox} = await buildTestImages(host)

  const id = randomBytes(4).toString('hex')
  const project = `platform-bench-${id}`
  const service = `bench-web-${id}`
  const name = `${project}_${service}_1`
  const port = await freePort()
  onCleanup(() => docker(host, ['rm', '--force', name], {reject: false}))
  await docker(host, [
    'run',
    '--detach',
    '--init',
    '--name',
    name,
    '--label',
    `com.docker.compose.project=${project}`,
    '--label',
    `com.docker.compose.service=${service}`,
    '-p',
    `127.0.0.1:${port}:8080`,
    '--health-cmd',
    'wget -q -O - http://127.0.0.1:8080/health.txt | grep -q ok',
    '--health-interval',
    '1s',
    '--health-retries',
    '2',
    busybox,
    'sh',
    '-c',
    'mkdir -p /www/bench; echo ok > /www/health.txt; exec httpd -f -p 8080 -h /www',
  ])

  const inspect = async (): Promise<Health> => {
    const s = JSON.parse(String((await docker(host, ['inspect', '--format', '{{json .State}}', name])).stdout)) as {
      Status: string
      StartedAt: string
      Health?: {Status: string; Log?: Array<{End: string}>}
    }
    return {state: s.Status, health: s.Health?.Status, startedAt: s.StartedAt, lastCheckEnd: s.Health?.Log?.at(-1)?.End}
  }
  /** Healthy by a check that ran after the container's (last) start. */
  const freshlyHealthy = (h: Health) =>
    h.state === 'running' && h.health === 'healthy' && h.lastCheckEnd !== undefined && Date.parse(h.lastCheckEnd) >= Date.parse(h.startedAt)
  /** Polls `docker inspect` every pollMs until freshly healthy; throws after timeoutMs. */
  const untilHealthy = async (pollMs: number, timeoutMs = 60_000) => {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const h = await inspect()
      if (freshlyHealthy(h)) return
      if (h.state === 'exited' || h.state === 'dead' || performance.now() > deadline)
        throw new Error(`${name} is ${h.state}${h.health ? `, ${h.health}` : ''}: not healthy after ${timeoutMs} ms`)
      await sleep(pollMs)
    }
  }
  await untilHealthy(100)

  // The files: for each size and each run a fresh content, so every patch changes them.
  const files = tempDir('bench-patch-files-')
  const cwd = tempDir('bench-patch-ledger-')
  let serial = 0
  const prepare = (size: number): string => {
    const dir = join(files, `s${size}-${++serial}`)
    mkdirSync(dir, {recursive: true})
    for (let i = 0; i < size; i++)
      writeFileSync(join(dir, `f${String(i).padStart(2, '0')}.html`), `<p>run ${serial}, file ${i}</p>\n${'x'.repeat(1024)}\n`)
    return dir
  }
  const cliEnv: NodeJS.ProcessEnv = {...process.env, DOCKER_HOST: host, NO_COLOR: '1', NODE_ENV: 'production'}
  for (const k of ['PLATFORM_STATE_DIR', 'PLATFORM_MODE']) delete cliEnv[k]

  /** `platform patch apply`: the CLI copies, restarts and waits for health itself. */
  const viaCli = async (size: number): Promise<number> => {
    const dir = prepare(size)
    const paths = size === 1 ? [join(dir, 'f00.html')] : [dir]
    const to = size === 1 ? '/www/bench/f00.html' : '/www/bench/'
    const t0 = performance.now()
    const r = await execa(process.execPath, [RUN_JS, 'patch', 'apply', service, ...paths, '--to', to, '--force', '--json'], {
      cwd,
      env: cliEnv,
      reject: false,
      timeout: 120_000,
    })
    const ms = performance.now() - t0
    const outcome = r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as {outcome: string}).outcome : undefined
    if (outcome !== 'applied')
      throw new Error(
        `platform patch apply (${size} files) exited ${r.exitCode}: ${String(r.stdout).slice(-800)}${String(r.stderr).slice(-800)}`,
      )
    return ms
  }
  /** By hand: docker cp, docker restart, docker inspect until healthy again. */
  const byHand = async (size: number): Promise<number> => {
    const dir = prepare(size)
    const t0 = performance.now()
    await docker(
      host,
      size === 1 ? ['cp', join(dir, 'f00.html'), `${name}:/www/bench/f00.html`] : ['cp', `${dir}/.`, `${name}:/www/bench/`],
    )
    await docker(host, ['restart', name])
    await untilHealthy(args['poll-ms'])
    return performance.now() - t0
  }

  // Warm-up (not timed): the first runs pay for cold caches, and after it every timed patch
  // replaces files that exist (the usual case, and the one where the CLI saves their copies).
  for (const size of SIZES) {
    await byHand(size)
    await viaCli(size)
  }

  const samples: Record<number, {cli: number[]; hand: number[]}> = Object.fromEntries(SIZES.map((s) => [s, {cli: [], hand: []}]))
  for (let round = 1; round <= args.rounds; round++) {
    for (const size of SIZES) {
      // Alternating which goes first, so neither always follows the other's restart.
      const order = round % 2 ? (['cli', 'hand'] as const) : (['hand', 'cli'] as const)
      for (const side of order) {
        await untilHealthy(100)
        samples[size]![side].push(side === 'cli' ? await viaCli(size) : await byHand(size))
      }
      log(
        `round ${round}, ${size} file${size === 1 ? '' : 's'}: platform ${fmt(samples[size]!.cli.at(-1)!)} ms, ` +
          `by hand ${fmt(samples[size]!.hand.at(-1)!)} ms`,
      )
    }
  }

  const results = SIZES.map((size) => {
    const cli = median(samples[size]!.cli)
    const hand = median(samples[size]!.hand)
    return {
      files: size,
      cliMs: samples[size]!.cli.map(Math.round),
      byHandMs: samples[size]!.hand.map(Math.round),
      cliMedianMs: cli,
      byHandMedianMs: hand,
      ratio: cli / hand,
      target: TARGET_RATIO,
      pass: cli / hand <= TARGET_RATIO,
    }
  })
  const verdict = results.every((r) => r.pass) ? 'PASS' : 'BELOW TARGET'

  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({benchmark: 'patch', rounds: args.rounds, pollMs: args['poll-ms'], results, verdict}, null, 2)}\n`,
    )
    return
  }
  console.log(
    `platform patch apply (copy + restart + health gate) vs docker cp + docker restart + docker inspect every ${args['poll-ms']} ms ` +
      `until healthy; busybox httpd, healthcheck every 1 s; ${args.rounds} rounds, alternating`,
  )
  console.log(
    table(
      ['files', 'platform ms', 'by hand ms', 'platform median', 'by hand median', 'ratio', 'target', 'verdict'],
      results.map((r) => [
        String(r.files),
        r.cliMs.join(' '),
        r.byHandMs.join(' '),
        fmt(r.cliMedianMs),
        fmt(r.byHandMedianMs),
        fmt(r.ratio, 2),
        `<= ${TARGET_RATIO}`,
        r.pass ? 'ok' : 'over',
      ]),
    ),
  )
  console.log(
    `verdict: ${verdict}: ` +
      `${results.map((r) => `${r.files} file${r.files === 1 ? '' : 's'} ${fmt(r.ratio, 2)}x (${r.pass ? 'ok' : 'over'})`).join(', ')}`,
  )
})
