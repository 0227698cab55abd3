/**
 * Docker Swarm, with the BUILT CLI and the docker tier's offline images (test/support/docker.ts:
 * the private dockerd, started or reused; made a single-node swarm for the run, left afterwards):
 *
 * - `platform up --swarm --init` until the command exits, which it does once every replica is
 *   running and healthy and the migrations are applied; each round from no stack and no volumes
 *   (`down --swarm --volumes` in between). The app image exists already (built untimed).
 * - A rolling hot patch of l09-api-gateway (`platform patch apply`, one small file: build the
 *   patched image, read it back, roll it out, follow it until every replica runs it healthy, read
 *   back from the replicas) against the rollout alone by hand: `docker service update --image REF`,
 *   which waits until the service converged, REF being a tag prepared beforehand (no build on that
 *   side). Rounds alternate which side goes first; medians; ratio patch / by hand.
 *
 * Exit 1 only when the run failed. The stack, the patched images and the swarm are removed at the end.
 *
 *   node --import tsx bench/swarm.ts [--rounds 3] [--json]
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {APP_IMAGE, buildTestImages, docker, startDockerd, stackEnv} from '../test/support/docker.js'
import {benchArgs, builtCli, fmt, freePort, loadavg, log, median, onCleanup, runBench, table, tempDir, timed} from './lib.js'

const args = benchArgs({rounds: 3})

await runBench(async () => {
  const dockerd = await startDockerd()
  onCleanup(() => dockerd.stop())
  const host = dockerd.host
  const images = await buildTestImages(host)
  const runJs = join(builtCli(['dist/commands/up.js', 'dist/commands/patch/apply.js']), 'bin', 'run.js')
  const ports = {l01: await freePort(), l09: await freePort(), prometheus: await freePort(), postgres: await freePort()}
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', NODE_ENV: 'production', ...stackEnv(host, images, ports)}
  for (const k of ['PLATFORM_STATE_DIR', 'PLATFORM_API_KEYS', 'L01_API_KEY', 'DATABASE_URL', 'PLATFORM_MODE']) delete env[k]
  const dir = tempDir('bench-swarm-')
  const platform = (argv: string[], timeoutMs = 300_000) => timed(process.execPath, [runJs, ...argv], {cwd: dir, env, timeoutMs})
  const must = async (argv: string[]) => {
    const r = await platform(argv)
    if (r.code !== 0) throw new Error(`platform ${argv.join(' ')} exited ${r.code}:\n${r.stdout.slice(-2000)}`)
    return r.ms
  }
  const wasInSwarm = String((await docker(host, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout).trim() === 'active'
  onCleanup(async () => {
    await platform(['down', '--swarm', '--volumes'], 120_000)
    const tags = async (reference: string) =>
      String((await docker(host, ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${reference}`])).stdout)
        .split('\n')
        .filter(Boolean)
    const made = [...(await tags('platform-app:patch-*')), ...(await tags('platform-app:by-hand-*'))]
    if (made.length) await docker(host, ['rmi', '--force', ...made], {reject: false})
    if (!wasInSwarm) await docker(host, ['swarm', 'leave', '--force'], {reject: false})
  })

  // Untimed: the app image (the runs time a stack whose images exist), and no stack left from before.
  if ((await docker(host, ['image', 'inspect', APP_IMAGE], {reject: false})).exitCode !== 0) {
    log(`${APP_IMAGE} is missing: platform up --docker --build (untimed)`)
    await must(['up', '--docker', '--build'])
    await must(['down', '--docker', '--volumes'])
  }
  await docker(host, ['swarm', 'init', '--advertise-addr', '127.0.0.1'], {reject: false})
  await platform(['down', '--swarm', '--volumes'], 120_000)

  const upMs: number[] = []
  for (let round = 1; round <= args.rounds; round++) {
    upMs.push(await must(['up', '--swarm', '--init']))
    log(`round ${round}: platform up --swarm --init ${fmt(upMs.at(-1)! / 1000, 1)} s`)
    if (round < args.rounds) await must(['down', '--swarm', '--volumes'])
  }

  const note = join(dir, 'note.txt')
  const patchMs: number[] = []
  const handMs: number[] = []
  for (let round = 1; round <= args.rounds; round++) {
    const sides: Array<() => Promise<void>> = [
      async () => {
        writeFileSync(note, `round ${round}\n`)
        patchMs.push(await must(['patch', 'apply', 'l09-api-gateway', note, '--to', '/app/note.txt', '-m', `bench round ${round}`]))
      },
      async () => {
        const ref = `platform-app:by-hand-${round}`
        await docker(host, ['tag', APP_IMAGE, ref])
        const r = await timed('docker', ['--host', host, 'service', 'update', '--image', ref, 'platform_l09-api-gateway'], {cwd: dir, env})
        if (r.code !== 0) throw new Error(`docker service update exited ${r.code}`)
        handMs.push(r.ms)
      },
    ]
    if (round % 2 === 0) sides.reverse()
    for (const side of sides) await side()
    log(`round ${round}: patch apply ${fmt(patchMs.at(-1)! / 1000, 1)} s, docker service update ${fmt(handMs.at(-1)! / 1000, 1)} s`)
  }

  const result = {
    up: {rounds: upMs, medianMs: median(upMs)},
    patch: {rounds: patchMs, medianMs: median(patchMs)},
    byHand: {rounds: handMs, medianMs: median(handMs)},
    ratio: median(patchMs) / median(handMs),
    replicas: {'l01-data-layer': 2, 'l09-api-gateway': 2},
    loadavg: loadavg(),
  }
  if (process.argv.includes('--json')) return void console.log(JSON.stringify(result, null, 2))
  console.log(`Docker Swarm, single node, 2 replicas of L01 and L09 (load average ${result.loadavg})`)
  console.log(
    table(
      ['measure', 'median s', 'rounds s'],
      [
        ['up --swarm --init, to converged and healthy', fmt(result.up.medianMs / 1000, 1), upMs.map((m) => fmt(m / 1000, 1)).join(' ')],
        ['patch apply (rolling, image built)', fmt(result.patch.medianMs / 1000, 1), patchMs.map((m) => fmt(m / 1000, 1)).join(' ')],
        ['docker service update by hand', fmt(result.byHand.medianMs / 1000, 1), handMs.map((m) => fmt(m / 1000, 1)).join(' ')],
      ],
    ),
  )
  console.log(`rolling patch / by hand: ${fmt(result.ratio, 2)}`)
})
