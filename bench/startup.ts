/**
 * How long a user waits, with the BUILT CLI (bin/run.js; `npm run build` first if dist/ is
 * missing): from spawning `platform up --detach` to L09's /health/ready answering 200 (our
 * own poll loop, started at spawn; not the command's exit), on a fresh project dir (PGlite
 * initialises, migrations apply) and warm (the same dir again after `down`); and
 * `platform --version` against `node -e 0`. Targets: first <= 5 s, warm <= 1 s, --version
 * <= 2x node. `platform down` always runs in every temp dir at the end. Exit 1 only when
 * the run failed.
 *
 *   node --import tsx bench/startup.ts [--samples 3] [--runs 10] [--json]
 */
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {benchArgs, builtCli, fmt, freePort, log, median, onCleanup, ROOT, runBench, table, tempDir, waitFor200, within} from './lib.js'

const TARGETS = {firstMs: 5000, warmMs: 1000, versionRatio: 2}
const args = benchArgs({samples: 3, runs: 10})
let RUN_JS = join(ROOT, 'bin', 'run.js')

/** The environment of a user in dir: no inherited platform settings, the given ports. */
function userEnv(l01Port: number, l09Port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', L01_PORT: String(l01Port), L09_PORT: String(l09Port)}
  for (const k of [
    'DATABASE_URL',
    'PLATFORM_STATE_DIR',
    'PLATFORM_DATA_DIR',
    'L01_API_KEY',
    'PLATFORM_API_KEYS',
    'L01_URL',
    'L01_HOST',
    'L09_HOST',
    'PLATFORM_MODE',
  ])
    delete env[k]
  return env
}

function down(dir: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync(process.execPath, [RUN_JS, 'down', '--timeout', '15'], {cwd: dir, env, encoding: 'utf8', timeout: 30_000})
  if (r.status !== 0) throw new Error(`platform down in ${dir} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`)
}

/** At the end: `platform down`; if that fails, SIGKILL the recorded detached process group ourselves. */
function finalDown(dir: string, env: NodeJS.ProcessEnv): void {
  try {
    down(dir, env)
  } catch (err) {
    const pid = Number.parseInt(
      existsSync(join(dir, '.platform', 'platform.pid')) ? readFileSync(join(dir, '.platform', 'platform.pid'), 'utf8') : '',
      10,
    )
    if (pid > 0) {
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    throw err
  }
}

/** Spawns `up --detach` and polls L09 from that instant: ms to the first 200, and to the command's exit. */
async function timeUp(dir: string, env: NodeJS.ProcessEnv, l09Port: number): Promise<{readyMs: number; exitMs: number}> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [RUN_JS, 'up', '--detach', '--log-level', 'silent'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  let exitMs = 0
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitMs = performance.now() - t0
      resolve(code)
    }),
  )
  const failed = () =>
    child.exitCode !== null && child.exitCode !== 0 ? `platform up --detach exited ${child.exitCode}:\n${out}` : undefined
  await waitFor200(`http://127.0.0.1:${l09Port}/health/ready`, {timeoutMs: 90_000, intervalMs: 10, abort: failed})
  const readyMs = performance.now() - t0
  const code = await within(exited, 90_000)
  if (code !== 0) {
    child.kill('SIGKILL')
    throw new Error(`platform up --detach ${code === 'timeout' ? 'did not exit' : `exited ${code}`}:\n${out}`)
  }
  return {readyMs, exitMs}
}

function timeSpawn(argv: string[]): number {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, argv, {cwd: ROOT, stdio: 'ignore', timeout: 30_000})
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} failed (${r.status ?? r.signal})`)
  return ms
}

await runBench(async () => {
  RUN_JS = join(builtCli(['dist/commands/up.js', 'dist/commands/down.js', 'dist/src/embedded/worker.js']), 'bin', 'run.js')
  const first: Array<{readyMs: number; exitMs: number}> = []
  const warm: Array<{readyMs: number; exitMs: number}> = []
  for (let i = 1; i <= args.samples; i++) {
    const dir = tempDir('bench-startup-')
    const l09Port = await freePort()
    const env = userEnv(await freePort(), l09Port)
    onCleanup(() => finalDown(dir, env))
    first.push(await timeUp(dir, env, l09Port))
    down(dir, env)
    warm.push(await timeUp(dir, env, l09Port))
    down(dir, env)
    log(`sample ${i}: first ${fmt(first.at(-1)!.readyMs)} ms, warm ${fmt(warm.at(-1)!.readyMs)} ms to ready`)
  }

  const versionMs: number[] = []
  const nodeMs: number[] = []
  timeSpawn(['-e', '0'])
  timeSpawn([RUN_JS, '--version'])
  for (let i = 0; i < args.runs; i++) {
    nodeMs.push(timeSpawn(['-e', '0']))
    versionMs.push(timeSpawn([RUN_JS, '--version']))
  }

  const phase = (xs: Array<{readyMs: number; exitMs: number}>, targetMs: number) => {
    const readyMs = median(xs.map((x) => x.readyMs))
    return {
      samplesMs: xs.map((x) => Math.round(x.readyMs)),
      medianMs: readyMs,
      commandExitMedianMs: median(xs.map((x) => x.exitMs)),
      targetMs,
      pass: readyMs <= targetMs,
    }
  }
  const results = {
    first: phase(first, TARGETS.firstMs),
    warm: phase(warm, TARGETS.warmMs),
    version: {
      versionMedianMs: median(versionMs),
      nodeMedianMs: median(nodeMs),
      ratio: median(versionMs) / median(nodeMs),
      target: TARGETS.versionRatio,
      pass: median(versionMs) / median(nodeMs) <= TARGETS.versionRatio,
    },
  }
  const verdict = results.first.pass && results.warm.pass && results.version.pass ? 'PASS' : 'BELOW TARGET'

  if (args.json) {
    const record = {
      benchmark: 'startup',
      samples: args.samples,
      runs: args.runs,
      versionRunsMs: versionMs.map(Math.round),
      nodeRunsMs: nodeMs.map(Math.round),
      ...results,
      verdict,
    }
    process.stdout.write(`${JSON.stringify(record, null, 2)}\n`)
    return
  }
  const v = results.version
  console.log(
    `platform up --detach to L09 /health/ready 200 (${args.samples} samples), and --version vs node -e 0 (${args.runs} runs), built CLI`,
  )
  console.log(
    table(
      ['measure', 'samples ms', 'median ms', 'target', 'command exit ms'],
      [
        [
          'up, first (fresh dir)',
          results.first.samplesMs.join(' '),
          fmt(results.first.medianMs),
          `<= ${TARGETS.firstMs}`,
          fmt(results.first.commandExitMedianMs),
        ],
        [
          'up, warm (after down)',
          results.warm.samplesMs.join(' '),
          fmt(results.warm.medianMs),
          `<= ${TARGETS.warmMs}`,
          fmt(results.warm.commandExitMedianMs),
        ],
        ['platform --version', versionMs.map((x) => fmt(x)).join(' '), fmt(v.versionMedianMs), `<= ${TARGETS.versionRatio}x node`, ''],
        ['node -e 0', nodeMs.map((x) => fmt(x)).join(' '), fmt(v.nodeMedianMs), '', ''],
      ],
    ),
  )
  const mark = (ok: boolean) => (ok ? 'ok' : 'over')
  console.log(
    `verdict: ${verdict}: first ${fmt(results.first.medianMs / 1000, 2)} s (${mark(results.first.pass)}), ` +
      `warm ${fmt(results.warm.medianMs / 1000, 2)} s (${mark(results.warm.pass)}), ` +
      `--version ${fmt(v.ratio, 2)}x node -e 0 (${mark(v.pass)})`,
  )
})
