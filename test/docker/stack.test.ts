/**
 * The compose stack (platform/docker-compose.app.yml, project `platform`) on a real dockerd,
 * through the built CLI as a user runs it: up / status / logs / down, the original platform's
 * Prometheus in the wrong compose project (`stack doctor`, `stack relocate`, also after an
 * interruption), a host port held by a foreign container, and no Docker at all.
 *
 * The tests share one daemon and the fixed project name `platform`, but none relies on what
 * another did: each brings the stack to the state it needs (up, down, the old project's
 * Prometheus in place) and checks from there. Images stay behind as a cache; containers,
 * volumes and networks of both projects, and the foreign container, do not.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {waitFor} from '../support/wait.js'
import {runCli} from '../support/cli.js'
import {APP_IMAGE, docker, stackEnv} from '../support/docker.js'
import {freePort} from '../support/postgres.js'

const host = inject('dockerHost')
const images = inject('images')

const PROJECT = 'platform'
const SCENE = 'story-portal-app'
const SERVICES = ['postgres', 'l01-data-layer', 'l09-api-gateway', 'prometheus']

import type {ServiceStatus as Service} from '../../src/core/index.js'
import type {Finding} from '../../src/stack/index.js'

describe.skipIf(!host)('the Docker stack through the built CLI (project platform)', () => {
  const h = host!
  const suffix = randomBytes(4).toString('hex')
  const foreign = `platform-stack-test-foreign-${suffix}`
  /** The user's project directory (keys and .platform/), and the story-portal-app's. */
  let cwd = ''
  let sceneDir = ''
  let sceneFile = ''
  const ports = {l01: 0, l09: 0, prometheus: 0, postgres: 0}
  let env: NodeJS.ProcessEnv = {}
  /** The app image before this file rebuilt it, removed at the end if the rebuild left it dangling. */
  let appImageBefore: string | undefined
  let key = ''

  const cli = (args: string[], timeoutMs = 240_000, extra: NodeJS.ProcessEnv = {}) =>
    runCli(args, {cwd, env: {...env, ...extra}, timeoutMs})
  const out = async (args: string[]) => String((await docker(h, args)).stdout).trim()
  const lines = (text: string) => text.split('\n').filter(Boolean)
  /** Names of the containers (all states) carrying a label. */
  const labelled = async (label: string) => lines(await out(['ps', '--all', '--filter', `label=${label}`, '--format', '{{.Names}}']))
  const volumeExists = async (name: string) => (await docker(h, ['volume', 'inspect', name], {reject: false})).exitCode === 0
  const scene = (args: string[]) =>
    execa('docker-compose', ['-p', SCENE, '-f', sceneFile, ...args], {env: {DOCKER_HOST: h}, reject: false, all: true, timeout: 120_000})
  /** A file of a volume, read by a throwaway busybox container that mounts it read-only. */
  const readVolume = async (volume: string, path: string) =>
    out(['run', '--rm', '-v', `${volume}:/data:ro`, images!.busybox, 'cat', `/data/${path}`])
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${ports.l09}/api/v1${path}`, {
      ...init,
      headers: {'x-api-key': key, 'content-type': 'application/json', ...(init.headers as Record<string, string>)},
    })

  /** Prometheus's targets API on the platform's host port shows L01 and L09 up (the scrape interval is 5 s). */
  const scrapesBoth = () =>
    waitFor(
      'Prometheus to report l01-data-layer and l09-api-gateway up',
      async () => {
        const r = await fetch(`http://127.0.0.1:${ports.prometheus}/api/v1/targets`, {signal: AbortSignal.timeout(3000)})
        const body = (await r.json()) as {data: {activeTargets: Array<{labels: {job: string}; health: string}>}}
        const health = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t.health]))
        return health['l01-data-layer'] === 'up' && health['l09-api-gateway'] === 'up' ? health : false
      },
      {ms: 90_000},
    )

  /** Everything this file creates, whatever state a failed test left; the images stay. */
  async function cleanup(): Promise<void> {
    await cli(['down', '--volumes'], 120_000)
    await scene(['down', '--volumes', '--remove-orphans'])
    await docker(h, ['rm', '--force', foreign], {reject: false})
    // Belt and braces, should the CLI or compose have failed half-way.
    const left = [...(await labelled(`com.docker.compose.project=${PROJECT}`)), ...(await labelled(`com.docker.compose.project=${SCENE}`))]
    if (left.length) await docker(h, ['rm', '--force', '--volumes', ...left], {reject: false})
    for (const v of [`${PROJECT}_pgdata`, `${PROJECT}_prometheus-data`, `${SCENE}_prometheus-data`])
      await docker(h, ['volume', 'rm', '--force', v], {reject: false})
    for (const n of [`${PROJECT}_default`, `${SCENE}_default`]) await docker(h, ['network', 'rm', n], {reject: false})
  }

  /** The stack up and healthy, however it was left (up is idempotent); the gateway's key. */
  async function stackUp(): Promise<Service[]> {
    await scene(['down', '--volumes', '--remove-orphans'])
    const up = await cli(['up', '--docker', '--json'])
    expect(up.code, up.stdout.slice(-2000) + up.stderr).toBe(0)
    key = readFileSync(join(cwd, '.platform', 'api.key'), 'utf8').trim()
    return (JSON.parse(up.stdout) as {services: Service[]}).services
  }

  async function stackDown(): Promise<void> {
    const down = await cli(['down', '--docker'], 120_000)
    expect(down.code, down.stderr).toBe(0)
  }

  /**
   * The original platform's scene on a running stack: its Prometheus in project story-portal-app,
   * on the platform's Prometheus port, with data of its own (markers) that a fresh one would not
   * have; the platform's own Prometheus and its volume gone.
   */
  async function misplacedPrometheus(markers: Record<string, string>): Promise<string> {
    await stackUp()
    await docker(h, ['rm', '--force', ...(await labelled(`com.docker.compose.service=prometheus`))])
    await docker(h, ['volume', 'rm', '--force', `${PROJECT}_prometheus-data`])
    const upScene = await scene(['up', '-d'])
    expect(upScene.exitCode, upScene.all).toBe(0)
    const [old] = await labelled(`com.docker.compose.project=${SCENE}`)
    expect(old).toBeDefined()
    await waitFor('the story-portal-app prometheus to answer', async () => (await fetch(`http://127.0.0.1:${ports.prometheus}/-/ready`)).ok)
    for (const [file, text] of Object.entries(markers)) await docker(h, ['exec', old!, 'sh', '-c', `echo ${text} > /prometheus/${file}`])
    return old!
  }

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'platform-stack-'))
    sceneDir = mkdtempSync(join(tmpdir(), 'platform-story-portal-app-'))
    sceneFile = join(sceneDir, 'docker-compose.v2.yml')
    ports.l01 = await freePort()
    ports.l09 = await freePort()
    ports.prometheus = await freePort()
    ports.postgres = await freePort()
    env = {
      ...stackEnv(h, images!, ports),
      // Nothing of the caller's own platform settings: keys and state come from cwd/.platform.
      PLATFORM_STATE_DIR: undefined,
      PLATFORM_API_KEYS: undefined,
      L01_API_KEY: undefined,
      DATABASE_URL: undefined,
      PLATFORM_MODE: undefined,
    }
    // The original platform's compose project: Prometheus alone, on the platform's Prometheus port, with a named volume.
    writeFileSync(
      sceneFile,
      `services:
  prometheus:
    image: ${images!.prometheus}
    ports:
      - "127.0.0.1:${ports.prometheus}:9090"
    volumes:
      - prometheus-data:/prometheus
volumes:
  prometheus-data:
`,
    )
    const before = await docker(h, ['image', 'inspect', '--format', '{{.Id}}', APP_IMAGE], {reject: false})
    appImageBefore = before.exitCode === 0 ? String(before.stdout).trim() : undefined
    // Left over by a run that was killed before its afterAll: the two projects belong to this file.
    await cleanup()
  }, 180_000)

  afterAll(async () => {
    try {
      await cleanup()
      if (appImageBefore) {
        const now = await docker(h, ['image', 'inspect', '--format', '{{.Id}}', APP_IMAGE], {reject: false})
        if (String(now.stdout).trim() !== appImageBefore) await docker(h, ['rmi', appImageBefore], {reject: false})
      }
    } finally {
      for (const dir of [cwd, sceneDir]) if (dir) rmSync(dir, {recursive: true, force: true})
    }
  }, 180_000)

  it('without Docker, every docker command exits 3 saying Docker is not reachable, with no stack trace', async () => {
    const before = await labelled(`com.docker.compose.project=${PROJECT}`)
    const commands = [
      ['up', '--docker'],
      ['down', '--docker'],
      ['status', '--docker'],
      ['logs', '--docker'],
      ['stack', 'doctor'],
      ['stack', 'relocate', 'prometheus', '--yes'],
    ]
    const results = await Promise.all(commands.map((args) => cli(args, 60_000, {DOCKER_HOST: 'unix:///nonexistent.sock'})))
    for (const [i, r] of results.entries()) {
      const said = `${commands[i]!.join(' ')}:\n${r.stdout}${r.stderr}`
      expect(r.code, said).toBe(3)
      expect(r.stderr, said).toContain('Docker is not reachable at unix:///nonexistent.sock')
      expect(r.stderr, said).toContain('DOCKER_HOST')
      expect(r.stdout + r.stderr, said).not.toContain('\n    at ')
    }
    // Nothing was started on the real daemon meanwhile.
    expect(await labelled(`com.docker.compose.project=${PROJECT}`)).toEqual(before)
  })

  it('up --docker builds the image and brings every service to healthy; L09 serves the smoke scenario with no failure; ' +
    'Prometheus scrapes L01 and L09', async () => {
    await scene(['down', '--volumes', '--remove-orphans'])
    const up = await cli(['up', '--docker', '--build', '--json'])
    expect(up.code, up.stdout + up.stderr).toBe(0)
    const started = JSON.parse(up.stdout) as {mode: string; running: boolean; services: Service[]}
    expect(started).toMatchObject({mode: 'docker', running: true})
    expect(started.services.map((s) => [s.name, s.state, s.health])).toEqual(SERVICES.map((s) => [s, 'running', 'healthy']))

    key = readFileSync(join(cwd, '.platform', 'api.key'), 'utf8').trim()
    expect(key.length).toBeGreaterThanOrEqual(32)
    const smoke = await cli(
      ['test', 'smoke', '--target', `http://127.0.0.1:${ports.l09}`, '--api-key', key, '--duration', '8s', '--json'],
      120_000,
    )
    expect(smoke.code, smoke.stdout.slice(0, 4000) + smoke.stderr).toBe(0)
    const report = JSON.parse(smoke.stdout) as {total: {count: number; failures: number}; failures: unknown[]}
    expect(report.total.count).toBeGreaterThan(0)
    expect(report.total.failures, JSON.stringify(report.failures)).toBe(0)

    // The scenario's DELETE, as it sends it (content-type on a bodiless request), is one of its rarer calls: once for sure.
    const doomed = await api('/agents/', {method: 'POST', body: JSON.stringify({name: 'deleted through the stack'})})
    expect(doomed.status).toBe(201)
    expect((await api(`/agents/${((await doomed.json()) as {id: string}).id}`, {method: 'DELETE'})).status).toBe(204)

    expect(await scrapesBoth()).toMatchObject({'l01-data-layer': 'up', 'l09-api-gateway': 'up', prometheus: 'up'})
  }, 300_000)

  it('status --json (guessing the mode) and status --docker --json report every service running and healthy in project ' +
    'platform', async () => {
    const expected = (s: string) =>
      ({
        postgres: {image: images!.postgres, ports: [`127.0.0.1:${ports.postgres}->5432`]},
        'l01-data-layer': {image: APP_IMAGE, ports: [`127.0.0.1:${ports.l01}->8001`], url: `http://127.0.0.1:${ports.l01}`},
        'l09-api-gateway': {image: APP_IMAGE, ports: [`127.0.0.1:${ports.l09}->8009`], url: `http://127.0.0.1:${ports.l09}`},
        prometheus: {
          image: images!.prometheus,
          ports: [`127.0.0.1:${ports.prometheus}->9090`],
          url: `http://127.0.0.1:${ports.prometheus}`,
        },
      })[s]!
    await stackUp()
    for (const args of [
      ['status', '--json'],
      ['status', '--docker', '--json'],
    ]) {
      const r = await cli(args, 60_000)
      expect(r.code, r.stderr).toBe(0)
      const status = JSON.parse(r.stdout) as {mode: string; running: boolean; apiKeyFile: string; database?: string; services: Service[]}
      expect(status).toMatchObject({mode: 'docker', running: true, apiKeyFile: join(cwd, '.platform', 'api.key')})
      expect(status.database).toMatch(/^postgres container platform[_-]postgres[_-]1$/)
      expect(status.services.map((s) => s.name)).toEqual(SERVICES)
      for (const s of status.services) {
        expect(s, s.name).toMatchObject({state: 'running', health: 'healthy', project: PROJECT, ...expected(s.name)})
        expect(s.container, s.name).toMatch(new RegExp(`^platform[_-]${s.name}[_-]1$`))
        expect(s.uptimeSeconds, s.name).toBeGreaterThanOrEqual(0)
        if (s.name === 'postgres') expect(s.url).toBeUndefined()
      }
    }
  }, 120_000)

  it('logs SERVICE --tail 5 prints the last 5 log lines of that service; stack doctor finds nothing wrong', async () => {
    await stackUp()
    const logs = await cli(['logs', 'l01-data-layer', '--tail', '5'], 60_000)
    expect(logs.code, logs.stderr).toBe(0)
    const printed = lines(logs.stdout)
    expect(printed).toHaveLength(5)
    // Its request log: one JSON line per request, named after the service, never prefixed (one service).
    expect(
      printed.some((l) => l.startsWith('{') && (JSON.parse(l) as {name?: string}).name === 'l01-data-layer'),
      logs.stdout,
    ).toBe(true)

    const unknown = await cli(['logs', 'no-such-service'], 60_000)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no container for no-such-service')

    const doctor = await cli(['stack', 'doctor', '--json'], 60_000)
    const report = JSON.parse(doctor.stdout) as {ok: boolean; containers: number; findings: Finding[]}
    expect(report.findings).toEqual([])
    expect(report).toMatchObject({ok: true})
    expect(report.containers).toBeGreaterThanOrEqual(SERVICES.length)
    expect(doctor.code).toBe(0)
  }, 120_000)

  it("the original platform's scene: story-portal-app runs prometheus on the platform's port; doctor reports it, " +
    'relocate --carry-volumes moves it with its data', async () => {
    const old = await misplacedPrometheus({'relocation-marker': 'written-in-story-portal-app'})

    const doctor = await cli(['stack', 'doctor', '--json'], 60_000)
    expect(doctor.code, doctor.stderr).toBe(1)
    const report = JSON.parse(doctor.stdout) as {ok: boolean; findings: Finding[]}
    expect(report.ok).toBe(false)
    const wrong = report.findings.filter((f) => f.kind === 'wrong-project' && f.container === old)
    expect(wrong).toEqual([
      {
        kind: 'wrong-project',
        service: 'prometheus',
        container: old,
        message: expect.stringContaining(`compose project ${SCENE}`),
        fix: `platform stack relocate prometheus --from ${SCENE}`,
      },
    ])
    // The port is held by that same prometheus: reported once, as the wrong project, not again as a port conflict.
    expect(report.findings.filter((f) => f.kind === 'port-conflict' && f.container === old)).toEqual([])

    // The fix, as doctor gave it.
    const [bin, ...fixArgs] = wrong[0]!.fix.split(' ')
    expect(bin).toBe('platform')
    const relocate = await cli([...fixArgs, '--yes', '--carry-volumes', '--json'])
    expect(relocate.code, relocate.stdout + relocate.stderr).toBe(0)
    const done = JSON.parse(relocate.stdout) as {service: string; done: boolean; steps: string[]; notes: Record<string, string>}
    expect(done).toMatchObject({service: 'prometheus', done: true})
    expect(done.steps[0]).toMatch(new RegExp(`^stop ${old} \\(project ${SCENE}\\)`))
    expect(done.steps).toContain(`copy volume ${SCENE}_prometheus-data into ${PROJECT}_prometheus-data (the old volume stays as it is)`)
    expect(done.notes['Prometheus scrapes L01 and L09']).toBe('l01-data-layer and l09-api-gateway are up')

    await expectRelocated(['relocation-marker'])
  }, 300_000)

  it('a relocation stopped right after its stop step finishes when run again', async () => {
    const old = await misplacedPrometheus({
      'relocation-marker': 'written-in-story-portal-app',
      'second-marker': 'written-before-the-interruption',
    })
    // The first step of `stack relocate`, and then nothing: as if it was killed there.
    await docker(h, ['stop', old!])
    expect(await out(['inspect', '--format', '{{.State.Status}}', old!])).toBe('exited')

    const relocate = await cli(['stack', 'relocate', 'prometheus', '--from', SCENE, '--yes', '--carry-volumes', '--json'])
    expect(relocate.code, relocate.stdout + relocate.stderr).toBe(0)
    const done = JSON.parse(relocate.stdout) as {done: boolean; steps: string[]}
    expect(done.done).toBe(true)
    // It starts from where things stand: nothing left to stop.
    expect(done.steps.filter((s) => s.startsWith('stop '))).toEqual([])
    expect(done.steps).toContain(`remove container ${old} (its volumes are kept)`)

    await expectRelocated(['relocation-marker', 'second-marker'])

    // Run once more, it has nothing left to do.
    const again = await cli(['stack', 'relocate', 'prometheus', '--from', SCENE, '--yes', '--json'], 120_000)
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toEqual({service: 'prometheus', done: true, steps: []})
  }, 300_000)

  /** Prometheus runs (only) in `platform` on the platform's volume, which has the old ' +
    'volume's files; the old volume is still there; it scrapes L01 and L09. */
  async function expectRelocated(markers: string[]): Promise<void> {
    const instances = await labelled('com.docker.compose.service=prometheus')
    expect(instances).toHaveLength(1)
    const labels = JSON.parse(await out(['inspect', '--format', '{{json .Config.Labels}}', instances[0]!])) as Record<string, string>
    expect(labels).toMatchObject({'com.docker.compose.project': PROJECT, 'com.docker.compose.service': 'prometheus'})
    expect(await out(['inspect', '--format', '{{.State.Status}} {{.State.Health.Status}}', instances[0]!])).toBe('running healthy')
    const mounts = JSON.parse(await out(['inspect', '--format', '{{json .Mounts}}', instances[0]!])) as Array<{
      Name?: string
      Destination: string
    }>
    expect(mounts.find((m) => m.Destination === '/prometheus')?.Name).toBe(`${PROJECT}_prometheus-data`)
    expect(await labelled(`com.docker.compose.project=${SCENE}`)).toEqual([])

    // The old volume is kept, as it was; the running Prometheus sees its files in the new one.
    expect(await volumeExists(`${SCENE}_prometheus-data`)).toBe(true)
    expect(await readVolume(`${SCENE}_prometheus-data`, 'relocation-marker')).toBe('written-in-story-portal-app')
    for (const m of markers) {
      expect(await out(['exec', instances[0]!, 'cat', `/prometheus/${m}`])).toBe(await readVolume(`${SCENE}_prometheus-data`, m))
    }
    expect(await scrapesBoth()).toMatchObject({'l01-data-layer': 'up', 'l09-api-gateway': 'up'})

    const doctor = await cli(['stack', 'doctor', '--json'], 60_000)
    expect((JSON.parse(doctor.stdout) as {findings: Finding[]}).findings).toEqual([])
    expect(doctor.code).toBe(0)
  }

  it('down, from any directory, removes every container of the stack and keeps its volumes', async () => {
    await stackUp()
    // Not the directory `up` ran in: no keys and no staged build context there (docker-compose 1.29 wants one).
    const elsewhere = mkdtempSync(join(tmpdir(), 'platform-stack-elsewhere-'))
    const down = await runCli(['down', '--json'], {cwd: elsewhere, env, timeoutMs: 120_000}).finally(() =>
      rmSync(elsewhere, {recursive: true, force: true}),
    )
    expect(down.code, down.stderr).toBe(0)
    const result = JSON.parse(down.stdout) as {mode: string; removed: string[]}
    expect(result.mode).toBe('docker')
    expect(result.removed.map((n) => n.replace(/^platform[_-]|[_-]1$/g, '')).sort()).toEqual([...SERVICES].sort())
    expect(await labelled(`com.docker.compose.project=${PROJECT}`)).toEqual([])
    expect(await volumeExists(`${PROJECT}_pgdata`)).toBe(true)
    expect(await volumeExists(`${PROJECT}_prometheus-data`)).toBe(true)
  }, 180_000)

  it('up --docker with a host port held by a foreign container names it, exits non-zero and starts nothing', async () => {
    await stackDown()
    await docker(h, [
      'run',
      '--detach',
      '--name',
      foreign,
      '-p',
      `127.0.0.1:${ports.l09}:8080`,
      images!.busybox,
      'httpd',
      '-f',
      '-p',
      '8080',
    ])
    try {
      const up = await cli(['up', '--docker'])
      expect(up.code).not.toBe(0)
      expect(up.stderr).toContain(`port ${ports.l09} (l09-api-gateway) is held by container ${foreign}`)
      expect(up.stdout + up.stderr).not.toContain('\n    at ')
      expect(await labelled(`com.docker.compose.project=${PROJECT}`)).toEqual([])
    } finally {
      await docker(h, ['rm', '--force', foreign], {reject: false})
    }
  }, 180_000)

  it('up again finds the data down kept; down --volumes removes the containers and the data', async () => {
    await stackUp()
    const kept = await api('/agents/', {method: 'POST', body: JSON.stringify({name: 'kept by down'})})
    expect(kept.status).toBe(201)
    const keptAgent = ((await kept.json()) as {id: string}).id
    await stackDown()
    expect((await stackUp()).map((s) => s.health)).toEqual(SERVICES.map(() => 'healthy'))
    const read = await api(`/agents/${keptAgent}`)
    expect(read.status).toBe(200)
    expect(((await read.json()) as {name: string}).name).toBe('kept by down')

    const down = await cli(['down', '--volumes', '--json'], 120_000)
    expect(down.code, down.stderr).toBe(0)
    expect(JSON.parse(down.stdout)).toMatchObject({mode: 'docker', volumes: true})
    expect(await labelled(`com.docker.compose.project=${PROJECT}`)).toEqual([])
    const volumes = lines(await out(['volume', 'ls', '--format', '{{.Name}}']))
    expect(volumes.filter((v) => v.startsWith(`${PROJECT}_`))).toEqual([])
  }, 300_000)
})
