/**
 * The platform on a single-node Docker Swarm (stack `platform`) on the test dockerd, through the
 * built CLI as a user runs it: up --swarm --init, status, logs, a smoke run across both gateway
 * replicas, a killed task replaced under load, a rolling hot patch, one that Swarm rolls back,
 * patch rollback, and down.
 *
 * The routing mesh needs IPVS in the kernel. Where /proc/net/ip_vs is missing (this project's
 * CI machines: their kernel has VXLAN but no IPVS), its test is skipped with that reason, and
 * the smoke runs go from a container on the stack's network to tasks.l09-api-gateway (every
 * replica's own address, by Swarm's DNS) instead of the published port.
 *
 * The tests run in order and build on each other (deployed, then patched, then removed). The
 * file leaves the swarm it made; the images stay as a cache, the patched ones do not.
 */
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {migrationsDir, type PlatformStatus} from '../../src/core/index.js'
import {listMigrations} from '../../src/db/index.js'
import type {Summary} from '../../src/loadtest/index.js'
import type {Finding} from '../../src/stack/index.js'
import {exited, runCli, spawnCli} from '../support/cli.js'
import {APP_IMAGE, docker, stackEnv} from '../support/docker.js'
import {freePort} from '../support/postgres.js'
import {waitFor} from '../support/wait.js'

const host = inject('dockerHost')
const images = inject('images')
const IPVS = existsSync('/proc/net/ip_vs')
const SCENE = 'story-portal-app'

describe.skipIf(!host)('the platform on a single-node Docker Swarm (stack platform)', () => {
  const h = host!
  let cwd = ''
  let env: NodeJS.ProcessEnv = {}
  let key = ''
  const ports = {l01: 0, l09: 0, prometheus: 0, postgres: 0}

  const cli = (args: string[], timeoutMs = 300_000) => runCli(args, {cwd, env, timeoutMs})
  const out = async (args: string[]) => String((await docker(h, args)).stdout).trim()
  const lines = (text: string) => text.split('\n').filter(Boolean)
  const tasksOf = async (service: string) =>
    lines(await out(['ps', '--filter', `label=com.docker.swarm.service.name=platform_${service}`, '--format', '{{.ID}}']))
  const status = async () => {
    const r = await cli(['status', '--swarm', '--json'])
    return {code: r.code, doc: JSON.parse(r.stdout) as PlatformStatus}
  }
  const service = (doc: PlatformStatus, name: string) => doc.services.find((s) => s.name === name)!
  /** `platform test smoke` from a container on the stack's network, against every gateway replica by Swarm's DNS. */
  const smokeInside = (seconds: number) =>
    docker(
      h,
      ['run', '--rm', '--network', 'platform_default', '-e', `PLATFORM_API_KEY=${key}`, '-e', 'PLATFORM_STATE_DIR=/tmp/p', APP_IMAGE]
        .concat(['test', 'smoke', '--target', 'http://tasks.l09-api-gateway:8009', '--duration', `${seconds}s`, '--idempotency'])
        .concat(['--report', '/tmp/report', '--json']),
      {reject: false, timeout: (seconds + 90) * 1000},
    )
  /** Requests to /api/v1 one gateway replica has served, from its own /metrics. */
  const apiRequests = async (container: string) => {
    const script =
      "fetch('http://127.0.0.1:8009/metrics').then((r) => r.text()).then((t) => console.log(t.split('\\n')" +
      ".filter((l) => l.startsWith('http_requests_total{') && l.includes('route=\"/api/v1'))" +
      ".reduce((n, l) => n + Number(l.split(' ').pop()), 0)))"
    return Number(await out(['exec', container, 'node', '-e', script]))
  }
  const imageOf = async (name: string) => service((await status()).doc, name).image

  beforeAll(async () => {
    if (!IPVS) console.warn('[platform tests] this kernel has no IPVS (/proc/net/ip_vs): the routing-mesh test is skipped')
    cwd = mkdtempSync(join(tmpdir(), 'platform-swarm-'))
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort()
    env = stackEnv(h, images!, ports)
    // Swarm watches each updated task this long before the next: 3 s instead of 10 keeps the rolling updates short.
    writeFileSync(join(cwd, 'platform.yaml'), 'swarm:\n  update_monitor_s: 3\n')
    await cli(['down', '--swarm', '--volumes'], 120_000)
    await docker(h, ['swarm', 'leave', '--force'], {reject: false})
  }, 180_000)

  afterAll(async () => {
    await docker(h, ['stack', 'rm', SCENE], {reject: false})
    await cli(['down', '--swarm', '--volumes'], 120_000)
    await docker(h, ['volume', 'rm', '--force', `${SCENE}_prometheus-data`], {reject: false})
    await docker(h, ['swarm', 'leave', '--force'], {reject: false})
    const patched = lines(await out(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=platform-app:patch-*']))
    if (patched.length) await docker(h, ['rmi', '--force', ...patched], {reject: false})
    rmSync(cwd, {recursive: true, force: true})
  }, 180_000)

  it('refuses an engine in no swarm with exit 3, naming docker swarm init and --init', async () => {
    const r = await cli(['up', '--swarm'])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain('is not in a swarm')
    expect(r.stderr).toContain('docker swarm init')
    expect(r.stderr).toContain('platform up --swarm --init')
  }, 60_000)

  it('up --swarm --init deploys 2 replicas of L01 and L09, healthy, with the keys as Docker secrets', async () => {
    const up = await cli(['up', '--swarm', '--init', '--build', '--json'])
    expect(up.code, up.stdout.slice(-2000) + up.stderr.slice(-3000)).toBe(0)
    key = readFileSync(join(cwd, '.platform', 'api.key'), 'utf8').trim()
    const {code, doc} = await status()
    expect(code).toBe(0)
    expect(doc.mode).toBe('swarm')
    const replicas = Object.fromEntries(doc.services.map((s) => [s.name, s.replicas]))
    expect(replicas).toEqual({
      'l01-data-layer': {running: 2, desired: 2},
      'l09-api-gateway': {running: 2, desired: 2},
      postgres: {running: 1, desired: 1},
      prometheus: {running: 1, desired: 1},
    })
    for (const s of doc.services) expect(s.health, s.name).toBe('healthy')
    // L01 waited for PostgreSQL (--wait-for-db) instead of exiting until Swarm's restarts met it.
    expect(service(doc, 'l01-data-layer').failedTasks).toBeUndefined()
    expect(service(doc, 'l09-api-gateway').ports).toEqual([`${ports.l09}->8009`])
    expect(service(doc, 'l01-data-layer').ports).toEqual([]) // on the stack's network only

    // The keys are secrets: no task's environment holds them.
    for (const name of ['l01-data-layer', 'l09-api-gateway', 'postgres']) {
      const spec = JSON.parse(
        await out(['service', 'inspect', `platform_${name}`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}']),
      )
      const envs = (spec.Env ?? []) as string[]
      expect(
        envs.some((e) => /^(L01_API_KEY|PLATFORM_API_KEYS|DATABASE_URL|POSTGRES_PASSWORD)=/.test(e)),
        name,
      ).toBe(false)
      expect(envs.some((e) => e.includes(key))).toBe(false)
      expect((spec.Secrets as unknown[]).length, name).toBeGreaterThan(0)
    }
    // Two L01 replicas started at once, each migrating under the advisory lock: every migration applied (once: it is the key).
    const [pg] = await tasksOf('postgres')
    const sql = 'SELECT count(*) FROM public.platform_migrations'
    expect(Number(await out(['exec', pg!, 'psql', '-U', 'platform', '-d', 'platform', '-tAc', sql]))).toBe(
      listMigrations(migrationsDir()).length,
    )
  }, 360_000)

  it.skipIf(!IPVS)(
    'serves the smoke scenario through the routing mesh (needs IPVS, which this kernel lacks when skipped)',
    async () => {
      const smoke = await cli(['test', 'smoke', '--target', `http://127.0.0.1:${ports.l09}`, '--duration', '10s', '--api-key', key])
      expect(smoke.code, smoke.stdout.slice(-1500)).toBe(0)
    },
    120_000,
  )

  it('serves the smoke scenario through the gateway replicas with no errors while a killed L01 task is replaced', async () => {
    const run = smokeInside(15)
    await new Promise((resolve) => setTimeout(resolve, 7_000))
    const [victim] = await tasksOf('l01-data-layer')
    await docker(h, ['kill', victim!])
    const smoke = await run
    expect(smoke.exitCode, String(smoke.stdout).slice(-1500) + String(smoke.stderr).slice(-1500)).toBe(0)
    const total = (JSON.parse(String(smoke.stdout)) as {total: {count: number; failures: number}}).total
    expect(total.failures).toBe(0)
    expect(total.count).toBeGreaterThan(20)
    // Every request of the run was served by one of the two gateway replicas (which ones is up to the client's few
    // connections and Swarm's DNS; spreading by the routing mesh needs IPVS, see above).
    const replicas = await tasksOf('l09-api-gateway')
    expect(replicas).toHaveLength(2)
    let served = 0
    for (const c of replicas) served += await apiRequests(c)
    expect(served).toBeGreaterThanOrEqual(total.count)
    const back = await waitFor('Swarm to run 2 L01 replicas again', async () => {
      const {doc} = await status()
      const l01 = service(doc, 'l01-data-layer')
      return l01.replicas?.running === 2 ? l01 : false
    })
    expect(back.failedTasks?.some((t) => t.error.includes('137'))).toBe(true) // the kill, reported
    expect(await tasksOf('l01-data-layer')).not.toContain(victim)
  }, 180_000)

  it('test smoke --generators 2 --swarm: generators as the Swarm service platform-loadgen, one merged result, none left', async () => {
    const r = await cli(['test', 'smoke', '--generators', '2', '--swarm', '--duration', '6s', '--idempotency', '--json'], 240_000)
    let s: Summary
    try {
      s = JSON.parse(r.stdout) as Summary
    } catch {
      throw new Error(`exit ${r.code}: ${r.stdout.slice(-1500)}${r.stderr.slice(-3000)}`)
    }
    expect(r.code, `${s.verdict.sentence} ${r.stderr.slice(-2000)}`).toBe(0)
    expect(s.target).toBe('http://tasks.l09-api-gateway:8009')
    expect(s.total.failures).toBe(0)
    const node = (await out(['info', '--format', '{{.Name}}'])).trim()
    expect(s.generators!.map((g) => [g.name, g.node, g.valid])).toEqual([
      ['generator 1', node, true],
      ['generator 2', node, true],
    ])
    for (const g of s.generators!) expect(g.count).toBeGreaterThan(0)
    expect(s.generators!.reduce((n, g) => n + g.count, 0)).toBe(s.total.count)
    expect(await out(['service', 'ls', '--filter', 'name=platform-loadgen', '--format', '{{.Name}}'])).toBe('')
    expect(await out(['secret', 'ls', '--filter', 'name=platform-loadgen-key', '--format', '{{.Name}}'])).toBe('')
  }, 300_000)

  it('Ctrl-C during a run on Swarm removes platform-loadgen; the API key was a secret, on no command line', async () => {
    const child = spawnCli(['test', 'smoke', '--generators', '2', '--swarm', '--duration', '60s'], {cwd, env})
    await waitFor('a progress line', async () => /\d+s\/1m00s {2}users/.test(child.output()) || child.exitCode !== null, {
      ms: 180_000,
      every: 200,
      detail: async () => child.output(),
    })
    const spec = JSON.parse(await out(['service', 'inspect', 'platform-loadgen', '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}']))
    expect(JSON.stringify(spec)).not.toContain(key)
    expect(spec.Env).toContain('PLATFORM_API_KEY_FILE=/run/secrets/platform-loadgen-api-key')
    expect(spec.Args.slice(0, 3)).toEqual(['test', 'generator', '--coordinator'])
    child.kill('SIGINT')
    expect(await exited(child), child.output()).toBe(130)
    expect(await out(['service', 'ls', '--filter', 'name=platform-loadgen', '--format', '{{.Name}}'])).toBe('')
  }, 300_000)

  it('logs --swarm shows every replica, each line prefixed with its task', async () => {
    const r = await cli(['logs', 'l09-api-gateway', '--swarm', '--tail', '5'])
    expect(r.code, r.stderr).toBe(0)
    const prefixes = new Set(lines(r.stdout).map((l) => l.split('|')[0]!.trim()))
    expect(prefixes).toEqual(new Set(['l09-api-gateway.1', 'l09-api-gateway.2']))
  }, 60_000)

  it('rolls a good patch out to every replica as an image; status and patch list show it', async () => {
    const note = join(cwd, 'note.txt')
    writeFileSync(note, `patched at ${new Date().toISOString()}\n`)
    const r = await cli(['patch', 'apply', 'l09-api-gateway', note, '--to', '/app/note.txt', '-m', 'a good one', '--json'])
    expect(r.code, r.stdout.slice(-2000) + r.stderr.slice(-2000)).toBe(0)
    const applied = JSON.parse(r.stdout) as {outcome: string; image: string; id: string}
    expect(applied.outcome).toBe('applied')
    expect(applied.image).toBe(`platform-app:patch-${applied.id}`)
    const {doc} = await status()
    const l09 = service(doc, 'l09-api-gateway')
    expect(l09.image).toBe(applied.image)
    expect(l09.patches).toBe(1)
    expect(l09.replicas).toEqual({running: 2, desired: 2})
    for (const c of await tasksOf('l09-api-gateway')) expect(await out(['exec', c, 'cat', '/app/note.txt'])).toContain('patched at')
    const list = JSON.parse((await cli(['patch', 'list', '--json'])).stdout) as {patches: Array<{id: string; outcome: string}>}
    expect(list.patches.find((p) => p.id === applied.id)?.outcome).toBe('applied')
    const doctor = await cli(['stack', 'doctor', '--json'])
    expect(doctor.code).toBe(1)
    const drift = (JSON.parse(doctor.stdout) as {findings: Finding[]}).findings.filter((f) => f.kind === 'drift')
    expect(drift).toHaveLength(1)
    expect(drift[0]!.message).toContain(`patch ${applied.id}`)
  }, 240_000)

  it('a patch that breaks the service is rolled back by Swarm: exit 1, and the ledger says so', async () => {
    const before = await imageOf('l09-api-gateway')
    const broken = join(cwd, 'run.js')
    writeFileSync(broken, "console.error('broken by a patch'); process.exit(1)\n")
    const r = await cli(['patch', 'apply', 'l09-api-gateway', broken, '--to', '/app/bin/run.js', '-m', 'a bad one', '--json'])
    expect(r.code).toBe(1)
    const result = JSON.parse(r.stdout) as {outcome: string; reason: string; id: string}
    expect(result.outcome).toBe('rolled-back')
    expect(result.reason).toContain('Swarm rolled the update back')
    expect(await imageOf('l09-api-gateway')).toBe(before)
    const {doc} = await status()
    expect(service(doc, 'l09-api-gateway').update).toBe('rollback_completed')
    expect(service(doc, 'l09-api-gateway').replicas).toEqual({running: 2, desired: 2})
    const list = JSON.parse((await cli(['patch', 'list', '--json'])).stdout) as {patches: Array<{id: string; outcome: string}>}
    expect(list.patches.find((p) => p.id === result.id)?.outcome).toBe('rolled-back')
  }, 240_000)

  it('patch rollback returns the service to the image before the patch', async () => {
    const r = await cli(['patch', 'rollback', 'l09-api-gateway', '--json'])
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    expect((JSON.parse(r.stdout) as {outcome: string}).outcome).toBe('reverted')
    const {doc} = await status()
    expect(service(doc, 'l09-api-gateway').image).toBe(APP_IMAGE)
    expect(service(doc, 'l09-api-gateway').patches).toBeUndefined()
    for (const c of await tasksOf('l09-api-gateway')) {
      const cat = await docker(h, ['exec', c, 'cat', '/app/note.txt'], {reject: false})
      expect(cat.exitCode).not.toBe(0)
    }
  }, 240_000)

  it('stack doctor finds Prometheus deployed under another stack; stack relocate --from-stack moves it with its data', async () => {
    // The original platform's scene, on Swarm: its Prometheus in stack story-portal-app, on the platform's port, with data of its own.
    await docker(h, ['service', 'rm', 'platform_prometheus'])
    await waitFor('the platform prometheus task to go', async () => (await tasksOf('prometheus')).length === 0)
    const scene = join(cwd, 'story-portal-app.yml')
    const stackFile = {
      version: '3.8',
      services: {prometheus: {image: images!.prometheus, ports: [`${ports.prometheus}:9090`], volumes: ['prometheus-data:/prometheus']}},
      volumes: {'prometheus-data': {}},
    }
    writeFileSync(scene, JSON.stringify(stackFile))
    await docker(h, ['stack', 'deploy', '--compose-file', scene, '--resolve-image', 'never', SCENE])
    const old = await waitFor('the story-portal-app prometheus to run', async () => {
      const ids = lines(await out(['ps', '--filter', `label=com.docker.swarm.service.name=${SCENE}_prometheus`, '--format', '{{.ID}}']))
      return ids[0]
    })
    await docker(h, ['exec', old, 'sh', '-c', 'echo from-the-old-stack > /prometheus/marker'])

    const doctor = await cli(['stack', 'doctor', '--json'])
    expect(doctor.code).toBe(1)
    const findings = (JSON.parse(doctor.stdout) as {findings: Finding[]}).findings
    const wrong = findings.filter((f) => f.kind === 'wrong-stack')
    expect(wrong).toHaveLength(1)
    expect(wrong[0]).toMatchObject({service: 'prometheus', fix: `platform stack relocate prometheus --from-stack ${SCENE}`})
    expect(findings.filter((f) => f.kind === 'port-conflict')).toEqual([]) // its port is its own: relocating frees it

    const moved = await cli(['stack', 'relocate', 'prometheus', '--from-stack', SCENE, '--carry-volumes', '--yes'])
    expect(moved.code, moved.stdout + moved.stderr.slice(-2000)).toBe(0)
    expect(lines(await out(['service', 'ls', '--format', '{{.Name}}']))).not.toContain(`${SCENE}_prometheus`)
    const {doc} = await status()
    expect(service(doc, 'prometheus').replicas).toEqual({running: 1, desired: 1})
    const [mine] = await tasksOf('prometheus')
    expect(await out(['exec', mine!, 'cat', '/prometheus/marker'])).toBe('from-the-old-stack')
    const after = JSON.parse((await cli(['stack', 'doctor', '--json'])).stdout) as {findings: Finding[]}
    expect(after.findings.filter((f) => f.kind === 'wrong-stack')).toEqual([])
  }, 240_000)

  it('down --swarm removes the stack and waits until its tasks are gone', async () => {
    const r = await cli(['down', '--swarm', '--volumes'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('Removed the swarm stack platform')
    expect(lines(await out(['ps', '--all', '--filter', 'label=com.docker.stack.namespace=platform', '--format', '{{.ID}}']))).toEqual([])
    expect(lines(await out(['service', 'ls', '--format', '{{.Name}}']))).toEqual([])
    const {code, doc} = await status()
    expect(code).toBe(3)
    expect(doc.running).toBe(false)
  }, 180_000)
})
