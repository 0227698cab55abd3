/**
 * The Docker stack, with the BUILT CLI and the docker tier's offline images
 * (test/support/docker.ts: the private dockerd, started or reused):
 *
 * - `platform up --docker` (project platform; the app image already built) until the command
 *   exits, which it does once every service is healthy, against the bare baseline:
 *   `docker-compose -p platform-bench -f platform/docker-compose.app.yml up -d`, then polling
 *   `docker inspect` every 500 ms (as `up` polls) until every container is healthy. Same
 *   images, same environment, other host ports; each side starts from no containers and no
 *   volumes (down --volumes in between); rounds alternate which side goes first.
 * - `platform stack doctor` with the stack up and --extra small busybox containers present
 *   (a fifth running `sleep`, half labelled as containers of a foreign compose project):
 *   median of --runs runs, target < 1 s; and the same without the extra containers.
 *
 * Exit 1 only when the run failed. Everything it creates is removed at the end.
 *
 *   node --import tsx bench/stack.ts [--rounds 2] [--runs 5] [--extra 50] [--json]
 */
import {join} from 'node:path'
import {execa} from 'execa'
import {APP_IMAGE, buildTestImages, docker, startDockerd, stackEnv} from '../test/support/docker.js'
import {benchArgs, builtCli, fmt, freePort, log, median, onCleanup, runBench, sleep, table, tempDir, timed} from './lib.js'

const TARGET_DOCTOR_MS = 1000
const BASELINE_PROJECT = 'platform-bench'
const EXTRA_LABEL = 'platform-bench-extra'
const args = benchArgs({rounds: 2, runs: 5, extra: 50})

await runBench(async () => {
  const dockerd = await startDockerd()
  onCleanup(() => dockerd.stop())
  const host = dockerd.host
  const images = await buildTestImages(host)
  const copy = builtCli(['dist/commands/up.js', 'dist/commands/stack/doctor.js'])
  const runJs = join(copy, 'bin', 'run.js')
  const composeFile = join(copy, 'platform', 'docker-compose.app.yml')

  const common: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    NODE_ENV: 'production',
    ...stackEnv(host, images),
  }
  for (const k of ['PLATFORM_STATE_DIR', 'PLATFORM_API_KEYS', 'L01_API_KEY', 'DATABASE_URL', 'PLATFORM_MODE']) delete common[k]
  const ports = async () => ({
    L01_HOST_PORT: String(await freePort()),
    L09_HOST_PORT: String(await freePort()),
    PROMETHEUS_HOST_PORT: String(await freePort()),
    POSTGRES_HOST_PORT: String(await freePort()),
  })

  // The platform's side: its own project dir (keys in .platform/) and ports.
  const dir = tempDir('bench-stack-')
  const platformEnv = {...common, ...(await ports())}
  const platform = (argv: string[], timeoutMs?: number) =>
    timed(process.execPath, [runJs, ...argv], {cwd: dir, env: platformEnv, timeoutMs})
  const platformDown = async () => {
    const r = await platform(['down', '--docker', '--volumes'], 120_000)
    if (r.code !== 0) throw new Error(`platform down --docker --volumes exited ${r.code}`)
  }
  onCleanup(platformDown)

  // The baseline's side: the same compose file and images, with keys as `up` would pass them, other ports.
  const baselineEnv = {
    ...common,
    ...(await ports()),
    L01_API_KEY: 'bench-internal-key-0123456789abcdef',
    PLATFORM_API_KEYS: 'bench-api-key-0123456789abcdef0123',
  }
  const compose = (argv: string[]) =>
    execa('docker-compose', ['-p', BASELINE_PROJECT, '-f', composeFile, ...argv], {env: baselineEnv, all: true, timeout: 300_000})
  const baselineDown = async () => void (await compose(['down', '--volumes', '--remove-orphans']))
  onCleanup(baselineDown)

  const upPlatform = async () => {
    const r = await platform(['up', '--docker', '--json'])
    if (r.code !== 0) throw new Error(`platform up --docker exited ${r.code}:\n${r.stdout.slice(-3000)}`)
    const status = JSON.parse(r.stdout) as {services: Array<{name: string; health: string}>}
    const unhealthy = status.services.filter((s) => s.health !== 'healthy')
    if (unhealthy.length) throw new Error(`platform up --docker ended with ${unhealthy.map((s) => `${s.name} ${s.health}`).join(', ')}`)
    return r.ms
  }
  const upBaseline = async () => {
    const t0 = performance.now()
    await compose(['up', '-d'])
    const expected = (await compose(['config', '--services'])).stdout.split('\n').filter(Boolean).length
    for (const deadline = t0 + 300_000; ; await sleep(500)) {
      const ids = String(
        (await docker(host, ['ps', '--all', '--quiet', '--filter', `label=com.docker.compose.project=${BASELINE_PROJECT}`])).stdout,
      )
        .split('\n')
        .filter(Boolean)
      const states = ids.length
        ? String(
            (
              await docker(host, [
                'inspect',
                '--format',
                '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}',
                ...ids,
              ])
            ).stdout,
          ).split('\n')
        : []
      if (ids.length === expected && states.every((s) => s === 'running healthy')) return performance.now() - t0
      if (states.some((s) => s.startsWith('exited') || s.endsWith('unhealthy')))
        throw new Error(`the baseline stack failed: ${states.join('; ')}`)
      if (performance.now() > deadline) throw new Error(`the baseline stack is not healthy after 300 s: ${states.join('; ')}`)
    }
  }

  // Untimed: builds the app image when it is missing (the runs time a stack whose images exist), and clears leftovers.
  await platformDown()
  await baselineDown()
  if ((await docker(host, ['image', 'inspect', APP_IMAGE], {reject: false})).exitCode !== 0) {
    log(`${APP_IMAGE} is missing: platform up --docker --build (untimed)`)
    const r = await platform(['up', '--docker', '--build'], 600_000)
    if (r.code !== 0) throw new Error(`platform up --docker --build exited ${r.code}`)
    await platformDown()
  }

  const platformMs: number[] = []
  const baselineMs: number[] = []
  for (let round = 1; round <= args.rounds; round++) {
    const sides: Array<() => Promise<void>> = [
      async () => {
        platformMs.push(await upPlatform())
        await platformDown()
      },
      async () => {
        baselineMs.push(await upBaseline())
        await baselineDown()
      },
    ]
    if (round % 2 === 0) sides.reverse()
    for (const side of sides) await side()
    log(
      `round ${round}: platform up --docker ${fmt(platformMs.at(-1)! / 1000, 1)} s, ` +
        `docker-compose up -d + polling ${fmt(baselineMs.at(-1)! / 1000, 1)} s`,
    )
  }

  // stack doctor, with the stack up: first alone, then among the extra containers.
  await upPlatform()
  const doctorRuns = async () => {
    const ms: number[] = []
    let findings = 0
    let containers = 0
    await platform(['stack', 'doctor', '--json']) // warm-up, untimed
    for (let i = 0; i < args.runs; i++) {
      const r = await platform(['stack', 'doctor', '--json'], 60_000)
      const report = JSON.parse(r.stdout) as {containers: number; findings: unknown[]}
      if (r.code > 1) throw new Error(`platform stack doctor exited ${r.code}`)
      ms.push(r.ms)
      findings = report.findings.length
      containers = report.containers
    }
    return {ms, findings, containers}
  }
  const alone = await doctorRuns()

  onCleanup(async () => {
    const ids = String((await docker(host, ['ps', '--all', '--quiet', '--filter', `label=${EXTRA_LABEL}`])).stdout)
      .split('\n')
      .filter(Boolean)
    if (ids.length) await docker(host, ['rm', '--force', ...ids])
  })
  const suffix = process.pid.toString(36)
  for (let i = 0; i < args.extra; i += 10) {
    await Promise.all(
      Array.from({length: Math.min(10, args.extra - i)}, async (_, j) => {
        const n = i + j
        const labels = ['--label', EXTRA_LABEL]
        if (n % 2 === 0)
          labels.push('--label', 'com.docker.compose.project=bench-foreign', '--label', `com.docker.compose.service=worker-${n}`)
        const name = `bench-extra-${suffix}-${n}`
        if (n % 5 === 0) await docker(host, ['run', '--detach', '--name', name, ...labels, images.busybox, 'sleep', '3600'])
        else await docker(host, ['create', '--name', name, ...labels, images.busybox, 'sleep', '3600'])
      }),
    )
  }
  const crowded = await doctorRuns()
  await platformDown()

  const ratio = median(platformMs) / median(baselineMs)
  const doctorMs = median(crowded.ms)
  const doctorPass = doctorMs < TARGET_DOCTOR_MS
  const results = {
    benchmark: 'stack',
    rounds: args.rounds,
    up: {
      platformMs: platformMs.map(Math.round),
      baselineMs: baselineMs.map(Math.round),
      platformMedianMs: median(platformMs),
      baselineMedianMs: median(baselineMs),
      ratio,
    },
    doctor: {
      alone: {containers: alone.containers, findings: alone.findings, runsMs: alone.ms.map(Math.round), medianMs: median(alone.ms)},
      crowded: {containers: crowded.containers, findings: crowded.findings, runsMs: crowded.ms.map(Math.round), medianMs: doctorMs},
      targetMs: TARGET_DOCTOR_MS,
      pass: doctorPass,
    },
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
    return
  }
  const secs = (xs: number[]) => xs.map((x) => fmt(x / 1000, 1)).join(' ')
  console.log(`The Docker stack (${images.postgres}, ${APP_IMAGE}, ${images.prometheus}; ${args.rounds} rounds, alternating), built CLI`)
  console.log(
    table(
      ['measure', 'samples', 'median', 'target'],
      [
        ['platform up --docker, to all healthy (command exit)', `${secs(platformMs)} s`, `${fmt(median(platformMs) / 1000, 2)} s`, ''],
        ['docker-compose up -d + docker inspect polling', `${secs(baselineMs)} s`, `${fmt(median(baselineMs) / 1000, 2)} s`, ''],
        [`stack doctor, ${alone.containers} containers`, `${alone.ms.map((x) => fmt(x)).join(' ')} ms`, `${fmt(median(alone.ms))} ms`, ''],
        [
          `stack doctor, ${crowded.containers} containers`,
          `${crowded.ms.map((x) => fmt(x)).join(' ')} ms`,
          `${fmt(doctorMs)} ms`,
          `< ${TARGET_DOCTOR_MS} ms`,
        ],
      ],
    ),
  )
  const extraS = (median(platformMs) - median(baselineMs)) / 1000
  console.log(
    `verdict: up --docker takes ${fmt(ratio, 2)}x the bare compose + polling (${fmt(Math.abs(extraS), 1)} s ` +
      `${extraS >= 0 ? 'more' : 'less'}; it also checks ports, migrates and reports the status)`,
  )
  console.log(
    `verdict: ${doctorPass ? 'PASS' : 'BELOW TARGET'}: stack doctor ${fmt(doctorMs)} ms among ${crowded.containers} containers (target < ` +
      `${TARGET_DOCTOR_MS} ms; ${crowded.findings} findings)`,
  )
})
