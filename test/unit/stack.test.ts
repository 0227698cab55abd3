/**
 * stack doctor, relocation and the preflight (src/stack) against the FakeEngine and a compose
 * for it: in-memory stand-ins for dockerd and docker compose, since these rules must be
 * checked in seconds without Docker. The compose file is the platform's own; ports are free
 * ones, and a port held by a process is a real socket. The docker tier runs the same code on a
 * real dockerd.
 */
import {mkdtempSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadConfig} from '../../src/core/index.js'
import {applyPatch, findDrift} from '../../src/patch/index.js'
import {
  FakeEngine,
  doctor,
  fakeCompose,
  gatewayUrl,
  planRelocation,
  preflight,
  readServices,
  relocationSteps,
  type StackDeps,
} from '../../src/stack/index.js'
import {freePort} from '../support/postgres.js'

const OLD = 'story-portal-app'

async function stack() {
  const env: NodeJS.ProcessEnv = {}
  for (const v of ['L01_HOST_PORT', 'L09_HOST_PORT', 'PROMETHEUS_HOST_PORT', 'POSTGRES_HOST_PORT']) env[v] = String(await freePort())
  const engine = new FakeEngine()
  const specs = readServices(env)
  const compose = fakeCompose(engine, specs)
  const config = loadConfig({cwd: mkdtempSync(join(tmpdir(), 'platform-stack-unit-')), env: {}})
  const deps: StackDeps = {config, engine, compose, env, log: () => {}, clock: engine.clock}
  await compose.run(['up', '-d', '--no-build'])
  const own = (service: string) =>
    engine.all().find((c) => c.labels['com.docker.compose.project'] === 'platform' && c.labels['com.docker.compose.service'] === service)
  const port = (service: string) => specs.find((s) => s.name === service)!.ports[0]!.host
  const findings = async () => (await doctor(deps, async (_s, containers) => findDrift(config, containers))).findings
  return {engine, compose, deps, env, own, port, findings}
}

/** The original platform's postgres, in its own compose project, with data in its own volume and the platform's port. */
async function misplacedPostgres(s: Awaited<ReturnType<typeof stack>>) {
  await s.engine.remove(s.own('postgres')!.id)
  s.engine.volumes.delete('platform_pgdata')
  s.engine.volumes.set(`${OLD}_pgdata`, {labels: {}, files: new Map([['PG_VERSION', {content: Buffer.from('15\n'), mode: 0o600}]])})
  return s.engine.add({
    name: `${OLD}-postgres-1`,
    project: OLD,
    service: 'postgres',
    image: 'postgres:15',
    ports: [{host: s.port('postgres'), container: 5432}],
    mounts: [{type: 'volume', name: `${OLD}_pgdata`, destination: '/var/lib/postgresql/data'}],
    healthcheck: () => true,
  })
}

describe('stack doctor', () => {
  it('finds nothing wrong with a stack that runs as its compose file says', async () => {
    const s = await stack()
    expect(await s.findings()).toEqual([])
  })

  it('reports a service in the wrong compose project once (not again for the port it holds), with the relocate command', async () => {
    const s = await stack()
    const old = await misplacedPostgres(s)
    expect(await s.findings()).toEqual([
      {
        kind: 'wrong-project',
        service: 'postgres',
        container: old.name,
        message: `postgres runs in compose project ${OLD} (container ${old.name}, running), not in platform`,
        fix: `platform stack relocate postgres --from ${OLD}`,
      },
    ])
  })

  it('reports a platform port held by a foreign container, and one held by a process on this machine', async () => {
    const s = await stack()
    await s.engine.remove(s.own('l09-api-gateway')!.id)
    await s.engine.remove(s.own('l01-data-layer')!.id)
    s.engine.add({name: 'squatter', ports: [{host: s.port('l09-api-gateway'), container: 8080}]})
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(s.port('l01-data-layer'), '127.0.0.1', resolve))
    try {
      const found = (await s.findings()).filter((f) => f.kind === 'port-conflict')
      expect(found).toEqual([
        {
          kind: 'port-conflict',
          service: 'l01-data-layer',
          message: expect.stringMatching(new RegExp(`^port ${s.port('l01-data-layer')} of l01-data-layer is held by pid ${process.pid} `)),
          fix: expect.stringMatching(/^stop pid \d+ .*, or publish l01-data-layer on another host port$/),
        },
        {
          kind: 'port-conflict',
          service: 'l09-api-gateway',
          container: 'squatter',
          message: `port ${s.port('l09-api-gateway')} of l09-api-gateway is held by container squatter`,
          fix: 'docker stop squatter   # or publish l09-api-gateway on another host port',
        },
      ])
      await expect(preflight(s.deps, readServices(s.env))).rejects.toMatchObject({
        code: 'PORT_IN_USE',
        message: expect.stringContaining(`port ${s.port('l09-api-gateway')} (l09-api-gateway) is held by container squatter`),
      })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('reports orphans of the project and containers older than their image', async () => {
    const s = await stack()
    s.engine.add({name: 'platform-worker-1', project: 'platform', service: 'worker'})
    s.engine.images.set(s.own('prometheus')!.image, 'sha256:rebuilt')
    expect(await s.findings()).toEqual([
      {
        kind: 'orphan',
        container: 'platform-worker-1',
        service: 'worker',
        message: 'container platform-worker-1 belongs to project platform but its service worker is not in the compose file',
        fix: 'docker rm -f platform-worker-1',
      },
      {
        kind: 'stale-image',
        service: 'prometheus',
        container: 'platform-prometheus-1',
        message: `platform-prometheus-1 runs an older image than ${s.own('prometheus')!.image} is now`,
        fix: 'docker compose -p platform -f platform/docker-compose.app.yml up -d --force-recreate --no-deps prometheus',
      },
    ])
  })

  it('reports drift: a container carrying a hot patch, then patches lost when it was recreated', async () => {
    const s = await stack()
    const cwd = s.deps.config.root
    const {writeFileSync} = await import('node:fs')
    writeFileSync(join(cwd, 'app.js'), 'patched')
    const l01 = s.own('l01-data-layer')!
    const patchDeps = {config: s.deps.config, engine: s.engine, clock: s.engine.clock}
    const patch = await applyPatch(patchDeps, 'l01-data-layer', {paths: ['app.js'], to: '/app/app.js', cwd})
    expect(patch.outcome).toBe('applied')
    expect(await s.findings()).toEqual([
      {
        kind: 'drift',
        service: 'l01-data-layer',
        container: l01.name,
        message: `${l01.name} carries 1 hot patch not in its image (${patch.id})`,
        fix: 'commit the changes and rebuild: platform up --docker --build (then the patches can be rolled back or left)',
      },
    ])
    await s.engine.remove(l01.id)
    await s.compose.run(['up', '-d', '--no-deps', 'l01-data-layer'])
    expect(await s.findings()).toEqual([
      {
        kind: 'drift',
        service: 'l01-data-layer',
        message: `l01-data-layer's container was recreated: 1 patch (${patch.id}) no longer applied`,
        fix: 'platform patch reapply l01-data-layer',
      },
    ])
  })

  it('the gateway is found by its command, at the port its container publishes', async () => {
    const s = await stack()
    expect(await gatewayUrl(s.deps)).toBe(`http://127.0.0.1:${s.port('l09-api-gateway')}`)
    await s.engine.stop(s.own('l09-api-gateway')!.id)
    expect(await gatewayUrl(s.deps)).toBeUndefined()
  })
})

describe('stack relocate', () => {
  const fullPlan = (old: string) => [
    `stop ${old} (project ${OLD})`,
    `copy volume ${OLD}_pgdata into platform_pgdata (the old volume stays as it is)`,
    `remove container ${old} (its volumes are kept)`,
    'start postgres in project platform (docker compose up -d --no-deps postgres)',
    'wait until postgres is healthy',
  ]

  /** Relocated: postgres runs only in platform, healthy, on a volume holding the old one's data; the old volume is kept. */
  async function expectRelocated(s: Awaited<ReturnType<typeof stack>>) {
    const instances = s.engine.all().filter((c) => c.labels['com.docker.compose.service'] === 'postgres')
    expect(instances.map((c) => [c.labels['com.docker.compose.project'], c.state])).toEqual([['platform', 'running']])
    expect(s.engine.volumes.get('platform_pgdata')?.files.get('PG_VERSION')?.content.toString()).toBe('15\n')
    expect(s.engine.volumes.has(`${OLD}_pgdata`)).toBe(true)
    expect(await s.findings()).toEqual([])
    expect(await planRelocation(s.deps, 'postgres', {from: OLD})).toEqual({service: 'postgres', steps: [], done: true})
  }

  it('plans from where things stand and carries the data; run again it has nothing to do', async () => {
    const s = await stack()
    const old = await misplacedPostgres(s)
    const plan = await planRelocation(s.deps, 'postgres', {carryVolumes: true})
    const volumes = [{from: `${OLD}_pgdata`, to: 'platform_pgdata'}]
    expect(plan).toMatchObject({service: 'postgres', done: false, from: {project: OLD, container: old.name, volumes}})
    expect(plan.steps).toEqual(fullPlan(old.name))
    const steps = relocationSteps(s.deps, plan)
    expect(steps.map((x) => x.title)).toEqual([
      `Stop ${old.name}`,
      `Copy volume ${OLD}_pgdata to platform_pgdata`,
      `Remove ${old.name}`,
      'Start postgres in project platform',
      'postgres healthy',
    ])
    for (const step of steps) await step.run()
    await expectRelocated(s)
  })

  for (const done of [1, 2, 3, 4]) {
    it(`resumes after being stopped after step ${done}: a new plan starts where things stand and finishes`, async () => {
      const s = await stack()
      const old = await misplacedPostgres(s)
      const first = relocationSteps(s.deps, await planRelocation(s.deps, 'postgres', {carryVolumes: true}))
      for (const step of first.slice(0, done)) await step.run()
      const again = await planRelocation(s.deps, 'postgres', {carryVolumes: true, from: OLD})
      // Stopped: no stop step. Removed: nothing of the old container is left to plan for (its data was copied before).
      const expected = fullPlan(old.name)
        .slice(done >= 3 ? 3 : 0)
        .filter((line) => !(done >= 1 && line.startsWith('stop ')))
      expect(again.steps).toEqual(expected)
      for (const step of relocationSteps(s.deps, again)) await step.run()
      await expectRelocated(s)
    })
  }

  it('a step that fails (the engine refuses the volume copy) stops the run; run again, it finishes', async () => {
    const s = await stack()
    await misplacedPostgres(s)
    s.engine.failNext('copyVolume')
    const steps = relocationSteps(s.deps, await planRelocation(s.deps, 'postgres', {carryVolumes: true}))
    await expect(
      (async () => {
        for (const step of steps) await step.run()
      })(),
    ).rejects.toThrow('scripted failure of copyVolume')
    for (const step of relocationSteps(s.deps, await planRelocation(s.deps, 'postgres', {carryVolumes: true}))) await step.run()
    await expectRelocated(s)
  })

  it('refuses an unknown service, and a service that runs in several other places without --from', async () => {
    const s = await stack()
    const unknown = "redis is not a service of the platform's compose file"
    await expect(planRelocation(s.deps, 'redis')).rejects.toMatchObject({code: 'USAGE', message: unknown})
    await misplacedPostgres(s)
    s.engine.add({name: 'legacy-postgres-1', project: 'legacy', service: 'postgres', state: 'exited'})
    const several = expect.stringContaining('postgres runs in several places')
    await expect(planRelocation(s.deps, 'postgres')).rejects.toMatchObject({code: 'USAGE', message: several})
    expect((await planRelocation(s.deps, 'postgres', {from: 'legacy'})).from?.container).toBe('legacy-postgres-1')
  })
})
