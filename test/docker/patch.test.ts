/**
 * Hot patches (`platform patch apply | list | rollback | reapply`) on a real dockerd, through
 * the built CLI as a user runs it: a busybox httpd service with a Docker healthcheck (its own
 * compose project, so --force), the real l01-data-layer container of the platform stack seen
 * through L09 (with status / stack doctor drift, a recreated container and reapply), and the
 * safety rules (traversal, symlinks, stopped and foreign containers, a lock, a killed patch).
 *
 * Every test is a scene of its own: its own busybox container (for L01, whatever state the
 * stack's l01-data-layer is in) and the CLI run in its own temp directory, so its own
 * .platform/patches ledger. No test relies on what another did. Containers, volumes and
 * networks this file creates are removed at the end; images stay.
 */
import {createHash, randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {dirname, join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {waitFor} from '../support/wait.js'
import {packageRoot} from '../../src/core/index.js'
import {exited, runCli, spawnCli} from '../support/cli.js'
import {docker, stackEnv} from '../support/docker.js'
import {freePort} from '../support/postgres.js'

const host = inject('dockerHost')
const images = inject('images')

const PROJECT = 'platform'
/** The compiled L01 route module in the platform image. */
const L01_APP = '/app/dist/src/data-layer/resources.js'

import type {PatchRecord} from '../../src/patch/index.js'
import type {Finding} from '../../src/stack/index.js'

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** Writes files (path -> content) under dir, creating directories. */
function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), content)
  }
}

describe.skipIf(!host)('hot patches on the real Docker engine, through the built CLI', () => {
  const h = host!
  const suffix = randomBytes(4).toString('hex')
  /** Every busybox container of this file carries it, for the cleanup. */
  const OWN = `platform-patch-test=${suffix}`
  /** The foreign compose project of the busybox services (patched with --force). */
  const SCENE = `patch-test-${suffix}`
  const work = mkdtempSync(join(tmpdir(), 'platform-patch-'))
  const baseEnv: NodeJS.ProcessEnv = {
    DOCKER_HOST: h,
    // Nothing of the caller's own platform settings: state comes from cwd/.platform.
    PLATFORM_STATE_DIR: undefined,
    PLATFORM_API_KEYS: undefined,
    L01_API_KEY: undefined,
    DATABASE_URL: undefined,
    PLATFORM_MODE: undefined,
  }

  const out = async (args: string[]) => String((await docker(h, args)).stdout).trim()
  const lines = (text: string) => text.split('\n').filter(Boolean)
  const labelled = async (label: string) => lines(await out(['ps', '--all', '--filter', `label=${label}`, '--format', '{{.Names}}']))
  let scenes = 0
  /** A scene: a fresh working directory (its own ledger) and the CLI run there. */
  const scene = (env: () => NodeJS.ProcessEnv = () => baseEnv) => {
    const cwd = join(work, `scene-${++scenes}`)
    mkdirSync(cwd, {recursive: true})
    const cli = (args: string[], timeoutMs = 120_000) => runCli(args, {cwd, env: env(), timeoutMs})
    const ledger = async (): Promise<PatchRecord[]> => {
      const r = await cli(['patch', 'list', '--json'], 60_000)
      expect(r.code, r.stderr).toBe(0)
      return (JSON.parse(r.stdout) as {patches: PatchRecord[]}).patches
    }
    return {cwd, cli, ledger}
  }

  /** A file of a container (running or not), through the archive API (`docker cp`). */
  async function containerFile(container: string, path: string): Promise<Buffer | undefined> {
    const dest = mkdtempSync(join(work, 'cp-'))
    try {
      const r = await docker(h, ['cp', `${container}:${path}`, join(dest, 'file')], {reject: false})
      return r.exitCode === 0 ? readFileSync(join(dest, 'file')) : undefined
    } finally {
      rmSync(dest, {recursive: true, force: true})
    }
  }
  const containerSha = async (container: string, path: string) => {
    const b = await containerFile(container, path)
    return b && sha(b)
  }
  const exists = async (container: string, path: string) => (await containerFile(container, path)) !== undefined
  const inspect = async (container: string) => {
    const [id, image, state, health] = (
      await out([
        'inspect',
        '--format',
        '{{.Id}} {{.Image}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
        container,
      ])
    ).split(' ')
    return {id: id!, image: image!, state: state!, health: health ?? ''}
  }

  /**
   * A busybox httpd serving /www on a free host port, with a Docker healthcheck on
   * /health.txt (every second, unhealthy after 2 failures), in compose project SCENE.
   * --init: httpd as PID 1 would ignore SIGTERM and make every restart wait 10 s. With rewrite,
   * its command writes /www/index.html at every start, as entrypoints that render a page do.
   */
  async function startWeb(
    role: string,
    opts: {rewrite?: boolean} = {},
  ): Promise<{name: string; service: string; port: number; url: string}> {
    const service = `${role}-${suffix}`
    const name = `${SCENE}_${service}_1`
    const port = await freePort()
    const index = opts.rewrite ? 'echo original > /www/index.html' : '[ -f /www/index.html ] || echo v1 > /www/index.html'
    await docker(h, [
      'run',
      '--detach',
      '--init',
      '--name',
      name,
      '--label',
      OWN,
      '--label',
      `com.docker.compose.project=${SCENE}`,
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
      images!.busybox,
      'sh',
      '-c',
      `mkdir -p /www; ${index}; [ -f /www/health.txt ] || echo ok > /www/health.txt; exec httpd -f -p 8080 -h /www`,
    ])
    await waitFor(`${name} to be healthy`, async () => (await inspect(name)).health === 'healthy')
    return {name, service, port, url: `http://127.0.0.1:${port}`}
  }
  const get = async (url: string) => {
    const r = await fetch(url, {signal: AbortSignal.timeout(5000)})
    return {status: r.status, text: await r.text()}
  }
  /** Runs patch apply; its --json result when it exits 0. */
  const applied = async (s: ReturnType<typeof scene>, args: string[]) => {
    const r = await s.cli(['patch', 'apply', ...args, '--json'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    return JSON.parse(r.stdout) as {
      id: string
      outcome: string
      container: string
      files: Array<{path: string; local: string; existed: boolean}>
    }
  }

  async function cleanupWeb(): Promise<void> {
    const left = await labelled(OWN)
    if (left.length) await docker(h, ['rm', '--force', '--volumes', ...left], {reject: false})
  }

  afterAll(async () => {
    try {
      await cleanupWeb()
    } finally {
      rmSync(work, {recursive: true, force: true})
    }
  }, 120_000)

  // -------------------------------------------------------------------------------------
  describe('a busybox httpd service with a Docker healthcheck (compose project of its own: --force)', () => {
    it('patches a page and a nested directory: the new pages are served; patch list --json records the patch', async () => {
      const s = scene()
      const web = await startWeb('pages')
      const originalSha = await containerSha(web.name, '/www/index.html')
      expect(originalSha).toBe(sha('v1\n'))
      writeTree(join(s.cwd, 'www'), {'index.html': `patched page ${suffix}\n`, 'docs/deep/er/page.html': `nested ${suffix}\n`})

      const result = await applied(s, [web.service, 'www', '--to', '/www/', '--force', '-m', 'new page'])
      expect(result).toMatchObject({outcome: 'applied', container: web.name})
      expect(result.files).toEqual([
        {path: '/www/docs/deep/er/page.html', local: join(s.cwd, 'www/docs/deep/er/page.html'), existed: false},
        {path: '/www/index.html', local: join(s.cwd, 'www/index.html'), existed: true},
      ])

      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: `patched page ${suffix}\n`})
      expect(await get(`${web.url}/docs/deep/er/page.html`)).toEqual({status: 200, text: `nested ${suffix}\n`})
      const c = await inspect(web.name)
      expect(c).toMatchObject({state: 'running', health: 'healthy'})

      const [record, ...more] = await s.ledger()
      expect(more).toEqual([])
      expect(record).toMatchObject({
        id: result.id,
        user: userInfo().username,
        service: web.service,
        container: {id: c.id, name: web.name},
        image: {ref: images!.busybox, id: c.image},
        message: 'new page',
        outcome: 'applied',
      })
      const byPath = Object.fromEntries(record!.files.map((f) => [f.path, f]))
      expect(byPath['/www/index.html']).toMatchObject({
        before: {existed: true, sha256: originalSha},
        after: {sha256: sha(`patched page ${suffix}\n`)},
      })
      expect(byPath['/www/docs/deep/er/page.html']).toMatchObject({before: {existed: false}, after: {sha256: sha(`nested ${suffix}\n`)}})
      expect(Date.parse(record!.createdAt)).toBeLessThanOrEqual(Date.parse(record!.updatedAt))
    }, 120_000)

    it('a patch that fails the healthcheck is rolled back: exit 1, the failed check named, the original bytes back, its new file gone, ' +
      'healthy', async () => {
      const s = scene()
      const web = await startWeb('unhealthy')
      const before = await containerSha(web.name, '/www/health.txt')
      writeTree(join(s.cwd, 'bad'), {'health.txt': 'fail\n', 'created-by-bad-patch.html': 'should not stay\n'})

      const r = await s.cli(['patch', 'apply', web.service, 'bad', '--to', '/www/', '--force', '--health-timeout', '20s'])
      expect(r.code, r.stdout + r.stderr).toBe(1)
      expect(r.stderr).toMatch(/Rolled back: its healthcheck fails/)
      expect(r.stderr).toContain(`${web.name} has its previous files again and is healthy.`)

      const [record] = await s.ledger()
      expect(record).toMatchObject({service: web.service, outcome: 'rolled-back', reason: expect.stringContaining('its healthcheck fails')})
      const health = record!.files.find((f) => f.path === '/www/health.txt')!
      expect(health.before).toMatchObject({existed: true, sha256: before})
      expect(health.after.sha256).toBe(sha('fail\n'))
      expect(record!.files.find((f) => f.path === '/www/created-by-bad-patch.html')!.before.existed).toBe(false)

      expect(await containerSha(web.name, '/www/health.txt')).toBe(health.before.sha256)
      expect(await exists(web.name, '/www/created-by-bad-patch.html')).toBe(false)
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
      expect((await get(`${web.url}/index.html`)).text).toBe('v1\n')
    }, 120_000)

    it('a container whose command rewrites the patched file at start: exit 1 naming the file, recorded overwritten, ' +
      'back on its previous files, healthy', async () => {
      const s = scene()
      const web = await startWeb('rewrites', {rewrite: true})
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'original\n'})
      writeTree(join(s.cwd, 'site'), {'index.html': `new page ${suffix}\n`, 'extra.html': 'extra\n'})

      const r = await s.cli(['patch', 'apply', web.service, 'site', '--to', '/www/', '--force', '--health-timeout', '20s'])
      expect(r.code, r.stdout + r.stderr).toBe(1)
      const named =
        '/www/index.html was rewritten when the container started (its command or entrypoint writes it); bake the change into the image, ' +
        'or patch the file that writes it'
      expect(r.stderr).toContain(`Rolled back: ${named}`)
      expect(r.stderr).toContain(`${web.name} has its previous files again and is healthy.`)
      expect(r.stdout + r.stderr).not.toContain('applied')

      const [record, ...more] = await s.ledger()
      expect(more).toEqual([])
      expect(record).toMatchObject({service: web.service, outcome: 'overwritten', reason: named})
      expect(await containerSha(web.name, '/www/index.html')).toBe(sha('original\n'))
      expect(await exists(web.name, '/www/extra.html')).toBe(false)
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'original\n'})
    }, 120_000)

    it('on that same kind of container, a patch of a file its command leaves alone survives the restart and passes', async () => {
      const s = scene()
      const web = await startWeb('survives', {rewrite: true})
      writeTree(join(s.cwd, 'site'), {'page.html': `kept ${suffix}\n`})
      const result = await applied(s, [web.service, 'site/page.html', '--to', '/www/page.html', '--force'])
      expect(result.outcome).toBe('applied')
      expect(await get(`${web.url}/page.html`)).toEqual({status: 200, text: `kept ${suffix}\n`})
      expect(await containerSha(web.name, '/www/page.html')).toBe(sha(`kept ${suffix}\n`))
      expect((await s.ledger()).map((p) => p.outcome)).toEqual(['applied'])
    }, 120_000)

    it('patch rollback ID restores the files it replaced and removes the ones it created', async () => {
      const s = scene()
      const web = await startWeb('rollback-id')
      writeTree(join(s.cwd, 'www'), {'index.html': 'patched\n', 'docs/page.html': 'new\n'})
      const {id} = await applied(s, [web.service, 'www', '--to', '/www/', '--force'])
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'patched\n'})

      const r = await s.cli(['patch', 'rollback', id])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.stdout).toContain(`reverted ${id} on ${web.name}; it is healthy.`)
      expect(await containerSha(web.name, '/www/index.html')).toBe(sha('v1\n'))
      expect(await exists(web.name, '/www/docs/page.html')).toBe(false)
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'v1\n'})
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
      expect((await s.ledger()).find((p) => p.id === id)?.outcome).toBe('reverted')
      // Nothing of it is left to undo.
      const again = await s.cli(['patch', 'rollback', id])
      expect(again.code).toBe(2)
      expect(again.stderr).toContain(`patch ${id} is reverted`)
    }, 120_000)

    it('patch rollback SERVICE undoes every active patch latest first: two patches of one file end as the original', async () => {
      const s = scene()
      const web = await startWeb('rollback-service')
      writeTree(join(s.cwd, 'a'), {'index.html': 'A\n'})
      writeTree(join(s.cwd, 'b'), {'index.html': 'B\n'})
      const {id: idA} = await applied(s, [web.service, 'a/index.html', '--to', '/www/index.html', '--force'])
      const {id: idB} = await applied(s, [web.service, 'b/index.html', '--to', '/www/index.html', '--force'])
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'B\n'})
      const recB = (await s.ledger()).find((p) => p.id === idB)!
      // B's "before" is A's "after": restoring B alone would leave A's page.
      expect(recB.files[0]!.before.sha256).toBe(sha('A\n'))

      const r = await s.cli(['patch', 'rollback', web.service])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(await containerSha(web.name, '/www/index.html')).toBe(sha('v1\n'))
      expect(await get(`${web.url}/index.html`)).toEqual({status: 200, text: 'v1\n'})
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
      const ledger = await s.ledger()
      expect([idA, idB].map((id) => ledger.find((p) => p.id === id)?.outcome)).toEqual(['reverted', 'reverted'])
      expect(ledger.filter((p) => p.outcome === 'applied')).toEqual([])
    }, 120_000)
  })

  // -------------------------------------------------------------------------------------
  describe('the real l01-data-layer container of the platform stack, seen through L09', () => {
    const ports = {l01: 0, l09: 0, prometheus: 0, postgres: 0}
    let env: NodeJS.ProcessEnv = baseEnv
    /** Where `up` ran: the stack's keys. Each test patches from a scene of its own. */
    const home = scene(() => env)
    const MARK = `hot-${suffix}`
    let key = ''
    /** The route module as the image has it. */
    let original: Buffer

    const api = (path: string) =>
      fetch(`http://127.0.0.1:${ports.l09}/api/v1${path}`, {headers: {'x-api-key': key}, signal: AbortSignal.timeout(5000)})
    /** L01's agent list as L09 relays it (retried while L09 reconnects to a restarted L01). */
    const agentList = () =>
      waitFor('GET /api/v1/agents/ through L09 to answer 200', async () => {
        const r = await api('/agents/')
        return r.status === 200 ? ((await r.json()) as {items: unknown[]; hotPatch?: string}) : false
      })
    const l01Container = async () => {
      const filters = [
        '--filter',
        `label=com.docker.compose.project=${PROJECT}`,
        '--filter',
        'label=com.docker.compose.service=l01-data-layer',
      ]
      const [name] = lines(await out(['ps', ...filters, '--format', '{{.Names}}']))
      if (!name) throw new Error('no running l01-data-layer container')
      return {id: (await inspect(name)).id, name}
    }
    const doctor = async (s: ReturnType<typeof scene>) => {
      const r = await s.cli(['stack', 'doctor', '--json'], 60_000)
      return {code: r.code, findings: (JSON.parse(r.stdout) as {findings: Finding[]}).findings}
    }
    /** L01's operations module with a new field first in the list's JSON text (one anchor in the compiled module). */
    const marked = () => {
      const text = original.toString('utf8')
      const anchor = /listBody\(page, limit, offset\)/g
      expect(text.match(anchor), `the list route's body in ${L01_APP}`).toHaveLength(1)
      return text.replace(anchor, `listBody(page, limit, offset).replace('{', '{"hotPatch":"${MARK}",')`)
    }

    /** l01-data-layer recreated by compose from its image, as a user's `up --force-recreate` does; resolves when healthy. */
    async function recreateL01(): Promise<{id: string; name: string}> {
      const before = await l01Container()
      // The compose the CLI itself would pick: the v2 plugin, else docker-compose v1.
      const v2 = (await execa('docker', ['compose', 'version'], {reject: false, env: {DOCKER_HOST: h}})).exitCode === 0
      const [bin, ...prefix] = v2 ? ['docker', 'compose'] : ['docker-compose']
      const file = join(packageRoot(), 'platform', 'docker-compose.app.yml')
      const keys = {L01_API_KEY: readFileSync(join(home.cwd, '.platform', 'internal.key'), 'utf8').trim(), PLATFORM_API_KEYS: key}
      const compose = await execa(
        bin!,
        [...prefix, '-p', PROJECT, '-f', file, 'up', '-d', '--force-recreate', '--no-deps', 'l01-data-layer'],
        {
          env: {...env, ...keys},
          reject: false,
          all: true,
          timeout: 120_000,
        },
      )
      expect(compose.exitCode, compose.all).toBe(0)
      return waitFor('the recreated l01-data-layer to be healthy', async () => {
        const c = await l01Container()
        return c.id !== before.id && (await inspect(c.name)).health === 'healthy' ? c : false
      })
    }

    /** The l01-data-layer container as its image has it: recreated when an earlier test left it patched. */
    async function l01AsImage(): Promise<{id: string; name: string}> {
      const c = await l01Container()
      const clean = (await containerSha(c.name, L01_APP)) === sha(original) && (await inspect(c.name)).health === 'healthy'
      return clean ? c : recreateL01()
    }

    /** The platform project's containers, volumes and network, whatever state a failed test left. */
    async function cleanupStack(): Promise<void> {
      await home.cli(['down', '--volumes'], 120_000)
      const left = await labelled(`com.docker.compose.project=${PROJECT}`)
      if (left.length) await docker(h, ['rm', '--force', '--volumes', ...left], {reject: false})
      for (const v of [`${PROJECT}_pgdata`, `${PROJECT}_prometheus-data`]) await docker(h, ['volume', 'rm', '--force', v], {reject: false})
      await docker(h, ['network', 'rm', `${PROJECT}_default`], {reject: false})
    }

    beforeAll(async () => {
      for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort()
      env = {...baseEnv, ...stackEnv(h, images!, ports)}
      // Left over by a run killed before its afterAll.
      await cleanupStack()
      // Builds the app image only when it is missing.
      const up = await home.cli(['up', '--docker', '--json'], 400_000)
      expect(up.code, up.stdout.slice(-2000) + up.stderr).toBe(0)
      key = readFileSync(join(home.cwd, '.platform', 'api.key'), 'utf8').trim()
      const l01 = await l01Container()
      original = (await containerFile(l01.name, L01_APP))!
      expect(original, `${L01_APP} in ${l01.name}`).toBeDefined()
    }, 420_000)

    afterAll(async () => {
      await cleanupStack()
    }, 180_000)

    it('a changed route module of L01 (a new field in its agent list) is seen through L09; status shows patches: 1; ' +
      'stack doctor reports drift', async () => {
      const s = scene(() => env)
      const l01 = await l01AsImage()
      expect((await agentList()).hotPatch).toBeUndefined()
      const patched = marked()
      writeTree(join(s.cwd, 'fix'), {'app.js': patched})

      const result = await applied(s, ['l01-data-layer', 'fix/app.js', '--to', L01_APP, '-m', 'mark the agent list'])
      expect(result).toMatchObject({outcome: 'applied', container: l01.name})

      expect((await agentList()).hotPatch).toBe(MARK)
      expect(await containerSha(l01.name, L01_APP)).toBe(sha(patched))
      const [record] = await s.ledger()
      expect(record).toMatchObject({
        id: result.id,
        service: 'l01-data-layer',
        container: l01,
        outcome: 'applied',
        files: [{path: L01_APP, before: {existed: true, sha256: sha(original)}, after: {sha256: sha(patched)}}],
      })

      const status = await s.cli(['status', '--docker', '--json'], 60_000)
      expect(status.code, status.stderr).toBe(0)
      const services = (JSON.parse(status.stdout) as {services: Array<{name: string; health: string; patches?: number}>}).services
      expect(services.find((x) => x.name === 'l01-data-layer')).toMatchObject({health: 'healthy', patches: 1})
      expect(services.filter((x) => x.patches !== undefined).map((x) => x.name)).toEqual(['l01-data-layer'])

      const d = await doctor(s)
      expect(d.code).toBe(1)
      expect(d.findings.filter((f) => f.kind === 'drift')).toEqual([
        {
          kind: 'drift',
          service: 'l01-data-layer',
          container: l01.name,
          message: expect.stringContaining(result.id),
          fix: expect.stringContaining('rebuild'),
        },
      ])
    }, 240_000)

    it('a syntax error in the module crashes L01: automatic rollback, exit 1, the previous bytes back, healthy, ' +
      'its new file gone', async () => {
      const s = scene(() => env)
      const l01 = await l01Container()
      const before = (await containerSha(l01.name, L01_APP))!
      writeTree(join(s.cwd, 'broken'), {
        'resources.js': `${original.toString('utf8')}\nexport const = ;\n`,
        'PATCH-NOTE.txt': 'created by the broken patch\n',
      })

      const r = await s.cli(
        ['patch', 'apply', 'l01-data-layer', 'broken', '--to', '/app/dist/src/data-layer/', '--health-timeout', '60s'],
        240_000,
      )
      expect(r.code, r.stdout + r.stderr).toBe(1)
      expect(r.stderr).toContain('Rolled back: the container exited after the restart')
      expect(r.stderr).toContain(`${l01.name} has its previous files again and is healthy.`)

      const [record] = await s.ledger()
      expect(record).toMatchObject({service: 'l01-data-layer', outcome: 'rolled-back'})
      expect(record!.files.find((f) => f.path === L01_APP)!.before.sha256).toBe(before)
      expect(await containerSha(l01.name, L01_APP)).toBe(before)
      expect(await exists(l01.name, '/app/dist/src/data-layer/PATCH-NOTE.txt')).toBe(false)
      expect(await inspect(l01.name)).toMatchObject({id: l01.id, state: 'running', health: 'healthy'})
      expect((await agentList()).items).toBeInstanceOf(Array)
    }, 300_000)

    it('after the container is recreated, doctor says the patch is no longer applied; ' +
      'patch reapply puts it back and doctor shows drift on the new container', async () => {
      const s = scene(() => env)
      await l01AsImage()
      const patched = marked()
      writeTree(join(s.cwd, 'fix'), {'app.js': patched})
      const {id: patchId} = await applied(s, ['l01-data-layer', 'fix/app.js', '--to', L01_APP])
      expect((await agentList()).hotPatch).toBe(MARK)

      const recreated = await recreateL01()
      // The image's module again: no field.
      expect(await containerSha(recreated.name, L01_APP)).toBe(sha(original))
      expect((await agentList()).hotPatch).toBeUndefined()

      const lost = await doctor(s)
      expect(lost.code).toBe(1)
      expect(lost.findings.filter((f) => f.kind === 'drift')).toEqual([
        {
          kind: 'drift',
          service: 'l01-data-layer',
          message: expect.stringMatching(new RegExp(`recreated: 1 patch \\(${patchId}\\) no longer applied`)),
          fix: 'platform patch reapply l01-data-layer',
        },
      ])
      const status = await s.cli(['status', '--docker', '--json'], 60_000)
      expect(
        (JSON.parse(status.stdout) as {services: Array<{name: string; patches?: number}>}).services.find((x) => x.name === 'l01-data-layer')
          ?.patches,
      ).toBeUndefined()

      const r = await s.cli(['patch', 'reapply', 'l01-data-layer', '--json'], 180_000)
      expect(r.code, r.stdout + r.stderr).toBe(0)
      const result = JSON.parse(r.stdout) as {id: string; outcome: string; container: string; patches: string[]}
      expect(result).toMatchObject({outcome: 'applied', container: recreated.name, patches: [patchId]})
      expect((await agentList()).hotPatch).toBe(MARK)
      expect(await containerSha(recreated.name, L01_APP)).toBe(sha(patched))

      const ledger = await s.ledger()
      expect(ledger.find((p) => p.id === patchId)?.outcome).toBe('superseded')
      expect(ledger.find((p) => p.id === result.id)).toMatchObject({
        outcome: 'applied',
        container: {id: recreated.id},
        files: [{path: L01_APP, before: {sha256: sha(original)}, after: {sha256: sha(patched)}}],
      })
      const drift = await doctor(s)
      expect(drift.code).toBe(1)
      expect(drift.findings.filter((f) => f.kind === 'drift')).toEqual([
        {
          kind: 'drift',
          service: 'l01-data-layer',
          container: recreated.name,
          message: expect.stringContaining(result.id),
          fix: expect.stringContaining('rebuild'),
        },
      ])
      // Run again, there is nothing left to re-apply.
      const again = await s.cli(['patch', 'reapply', 'l01-data-layer', '--json'], 60_000)
      expect(again.code, again.stderr).toBe(0)
      expect((JSON.parse(again.stdout) as {patches: string[]}).patches).toEqual([])
    }, 420_000)
  })

  // -------------------------------------------------------------------------------------
  describe('safety', () => {
    it('a --to with .., a relative --to and a local symlink pointing outside the patched directory are refused (exit 2); ' +
      'nothing is copied or recorded', async () => {
      const s = scene()
      const web = await startWeb('refuses-paths')
      writeTree(join(s.cwd, 'x'), {x: 'escaped\n'})
      const traversal = await s.cli(['patch', 'apply', web.service, 'x/x', '--to', '/www/../etc/x', '--force'])
      expect(traversal.code, traversal.stdout + traversal.stderr).toBe(2)
      expect(traversal.stderr).toContain('container path /www/../etc/x contains ..')
      expect(await exists(web.name, '/etc/x')).toBe(false)

      const relative = await s.cli(['patch', 'apply', web.service, 'x/x', '--to', 'www/x', '--force'])
      expect(relative.code, relative.stdout + relative.stderr).toBe(2)
      expect(relative.stderr).toContain('container path www/x is not absolute')

      const secret = join(work, `outside-${suffix}.txt`)
      writeFileSync(secret, 'a file outside the patch\n')
      writeTree(join(s.cwd, 'site'), {'ok.html': 'fine\n'})
      symlinkSync(secret, join(s.cwd, 'site', 'leak.txt'))
      const link = await s.cli(['patch', 'apply', web.service, 'site', '--to', '/www/site/', '--force'])
      expect(link.code, link.stdout + link.stderr).toBe(2)
      expect(link.stderr).toContain(`is a symlink to ${secret}, outside`)
      expect(await exists(web.name, '/www/site/ok.html')).toBe(false)
      expect(await exists(web.name, '/www/site/leak.txt')).toBe(false)

      expect(await s.ledger()).toEqual([])
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
    }, 120_000)

    it("a stopped container is refused with its state (exit 1), a missing one (exit 2), another project's without --force (exit 2); " +
      'no record is made', async () => {
      const s = scene()
      const web = await startWeb('foreign')
      const stopped = await startWeb('stopped')
      await docker(h, ['stop', stopped.name])
      writeTree(join(s.cwd, 'p'), {'index.html': 'never\n'})
      const down = await s.cli(['patch', 'apply', stopped.service, 'p/index.html', '--to', '/www/index.html', '--force'])
      expect(down.code, down.stdout + down.stderr).toBe(1)
      expect(down.stderr).toContain(`container ${stopped.name} of ${stopped.service} is exited: a patch needs a running container`)

      const missing = await s.cli(['patch', 'apply', `nowhere-${suffix}`, 'p/index.html', '--to', '/www/index.html', '--force'])
      expect(missing.code, missing.stdout + missing.stderr).toBe(2)
      expect(missing.stderr).toContain(`no container runs nowhere-${suffix}`)

      const foreign = await s.cli(['patch', 'apply', web.service, 'p/index.html', '--to', '/www/index.html'])
      expect(foreign.code, foreign.stdout + foreign.stderr).toBe(2)
      expect(foreign.stderr).toContain(`${web.service} runs only in compose project ${SCENE} (container ${web.name})`)
      expect(foreign.stderr).toContain('--force')
      expect(await containerSha(web.name, '/www/index.html')).toBe(sha('v1\n'))

      expect(await s.ledger()).toEqual([])
    }, 120_000)

    it('two patches started at once on one container do not interleave: both succeed, one after the other', async () => {
      const s = scene()
      const web = await startWeb('lock')
      writeTree(join(s.cwd, 'one'), {'same.html': 'one\n'})
      writeTree(join(s.cwd, 'two'), {'same.html': 'two\n'})
      const [one, two] = await Promise.all(
        ['one', 'two'].map((d) => s.cli(['patch', 'apply', web.service, `${d}/same.html`, '--to', '/www/same.html', '--force', '--json'])),
      )
      expect(one!.code, one!.stdout + one!.stderr).toBe(0)
      expect(two!.code, two!.stdout + two!.stderr).toBe(0)

      const records = (await s.ledger()).filter((p) => p.files[0]?.path === '/www/same.html')
      expect(records.map((p) => p.outcome)).toEqual(['applied', 'applied'])
      const [first, second] = records as [PatchRecord, PatchRecord]
      // The second began (saved the container's copy) only after the first had finished.
      expect(Date.parse(second.createdAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt))
      expect(first.files[0]!.before.existed).toBe(false)
      expect(second.files[0]!.before).toMatchObject({existed: true, sha256: first.files[0]!.after.sha256})
      expect(await containerSha(web.name, '/www/same.html')).toBe(second.files[0]!.after.sha256)
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})

      const undo = await s.cli(['patch', 'rollback', web.service])
      expect(undo.code, undo.stdout + undo.stderr).toBe(0)
      expect(await exists(web.name, '/www/same.html')).toBe(false)
    }, 180_000)

    it('a patch killed after its copy and before its restart shows as incomplete; ' +
      'patch rollback ID restores the original bytes', async () => {
      const s = scene()
      const web = await startWeb('killed')
      const original = await containerSha(web.name, '/www/index.html')
      writeTree(join(s.cwd, 'killed'), {'index.html': 'half-done\n'})
      const child = spawnCli(
        ['patch', 'apply', web.service, 'killed/index.html', '--to', '/www/index.html', '--force', '--pause-after-copy', '20000'],
        {cwd: s.cwd, env: baseEnv},
      )
      const dir = join(s.cwd, '.platform', 'patches')
      let record: PatchRecord
      try {
        record = await waitFor(
          'the ledger to record the copy',
          async () =>
            existsSync(dir) &&
            readdirSync(dir)
              .filter((d) => existsSync(join(dir, d, 'patch.json')))
              .map((d) => JSON.parse(readFileSync(join(dir, d, 'patch.json'), 'utf8')) as PatchRecord)
              .find((p) => p.files[0]?.local === join(s.cwd, 'killed/index.html') && p.outcome === 'copied'),
          {ms: 15_000},
        ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n--- the CLI said ---\n${child.output()}`)))
        expect(child.exitCode, child.output()).toBeNull()
      } finally {
        child.kill('SIGKILL')
      }
      expect(await exited(child)).toBeNull()
      // Copied, never restarted.
      expect(await containerSha(web.name, '/www/index.html')).toBe(sha('half-done\n'))

      const listed = (await s.ledger()).find((p) => p.id === record.id)
      expect(listed).toMatchObject({outcome: 'incomplete', files: [{path: '/www/index.html', before: {existed: true, sha256: original}}]})
      const text = await s.cli(['patch', 'list'])
      expect(text.stdout).toMatch(new RegExp(`${record.id}.*incomplete`))

      const r = await s.cli(['patch', 'rollback', record.id])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(await containerSha(web.name, '/www/index.html')).toBe(original)
      expect(await inspect(web.name)).toMatchObject({state: 'running', health: 'healthy'})
      expect((await s.ledger()).find((p) => p.id === record.id)?.outcome).toBe('reverted')
    }, 120_000)
  })
})
