/**
 * The container lifecycle (src/stack/container.ts) and pollUntil, against the FakeEngine: an
 * in-memory Engine, since these rules must be checked in seconds without a Docker daemon. The
 * docker tier (test/docker) runs the same code on a real dockerd.
 */
import {mkdtempSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {acquireLock, isPlatformError, loadConfig, pollUntil} from '../../src/core/index.js'
import {
  FakeClock,
  FakeEngine,
  containerLockPath,
  findServiceContainer,
  isInstanceOf,
  judge,
  portOwner,
  restartAndWait,
  withContainerLock,
} from '../../src/stack/index.js'
import {freePort} from '../support/postgres.js'

const config = () => loadConfig({cwd: mkdtempSync(join(tmpdir(), 'platform-container-')), env: {}})
const healthyIfOk = (files: Map<string, {content: Buffer}>) => files.get('/www/health.txt')?.content.toString() === 'ok\n'

describe('pollUntil', () => {
  it('returns the first defined value, checking every everyMs on the injected clock', async () => {
    const clock = new FakeClock()
    const start = clock.now()
    const seen: number[] = []
    const check = () => {
      seen.push(clock.now() - start)
      return seen.length === 3 ? 'ready' : undefined
    }
    const value = await pollUntil(check, {everyMs: 250, timeoutMs: 10_000, clock})
    expect(value).toBe('ready')
    expect(seen).toEqual([0, 250, 500])
  })

  it('gives up with undefined when the time or the attempts run out, having checked at least once', async () => {
    const clock = new FakeClock()
    let checks = 0
    expect(await pollUntil(() => void checks++, {everyMs: 500, timeoutMs: 2000, clock})).toBeUndefined()
    expect(checks).toBe(5)
    checks = 0
    expect(await pollUntil(() => void checks++, {everyMs: 500, attempts: 3, clock})).toBeUndefined()
    expect(checks).toBe(3)
    checks = 0
    expect(await pollUntil(() => void checks++, {everyMs: 500, timeoutMs: 0, clock})).toBeUndefined()
    expect(checks).toBe(1)
  })

  it('keeps null and false as answers (only undefined means not yet)', async () => {
    expect(await pollUntil(() => null, {everyMs: 1, clock: new FakeClock()})).toBeNull()
    expect(await pollUntil(() => false, {everyMs: 1, clock: new FakeClock()})).toBe(false)
  })
})

describe('finding a service container', () => {
  it('matches by compose label, else by name; prefers the platform project, the newest first', async () => {
    const engine = new FakeEngine()
    expect(isInstanceOf({name: 'x', service: 'web'} as never, 'web')).toBe(true)
    expect(isInstanceOf({name: 'platform_web_1', service: 'api'} as never, 'web')).toBe(false)
    for (const name of ['web', 'other_web_1', 'other-web-2', 'platform_web']) expect(isInstanceOf({name} as never, 'web'), name).toBe(true)
    for (const name of ['webby', 'my-web-server', 'web_x']) expect(isInstanceOf({name} as never, 'web'), name).toBe(false)

    engine.add({name: 'old', project: 'platform', service: 'web', created: 100})
    const newer = engine.add({name: 'new', project: 'platform', service: 'web', created: 200, state: 'exited'})
    engine.add({name: 'foreign', project: 'shop', service: 'web', created: 300})
    const found = await findServiceContainer(engine, 'web')
    expect(found).toMatchObject({id: newer.id, state: 'exited'})
  })

  it('another project only with force; nothing at all is NOT_FOUND', async () => {
    const engine = new FakeEngine()
    engine.add({name: 'shop_web_1', project: 'shop', service: 'web'})
    await expect(findServiceContainer(engine, 'web')).rejects.toMatchObject({
      code: 'USAGE',
      message: 'web runs only in compose project shop (container shop_web_1)',
    })
    expect((await findServiceContainer(engine, 'web', true)).name).toBe('shop_web_1')
    await expect(findServiceContainer(engine, 'api')).rejects.toMatchObject({code: 'NOT_FOUND', message: 'no container runs api'})
  })
})

describe('health after a restart', () => {
  it('counts only healthchecks made since the restart: a stale "healthy" from before does not pass a broken container', async () => {
    const engine = new FakeEngine()
    const web = engine.add({name: 'web', healthcheck: healthyIfOk, files: {'/www/health.txt': 'ok\n'}})
    engine.clock.time += 5000
    expect((await engine.inspect(web.id)).health).toBe('healthy')
    web.files.set('/www/health.txt', {content: Buffer.from('fail\n'), mode: 0o644})
    engine.clock.time += 100
    await engine.restart(web.id)
    // Right after the restart Docker still shows the last result, from before it.
    const stale = await engine.inspect(web.id)
    expect(stale.health).toBe('healthy')
    expect(await judge({engine}, stale)).toEqual({status: 'pending', reason: 'no healthcheck since the restart'})
    expect(await restartAndWait({engine, clock: engine.clock}, web.id, 20_000)).toBe('its healthcheck fails: check failed')
  })

  it('an exited container fails at once; one with no healthcheck or port passes once steady; a timeout says what it saw', async () => {
    const engine = new FakeEngine()
    const crash = engine.add({name: 'crash', command: (files) => files.get('/ok') !== undefined})
    expect(crash.state).toBe('exited')
    expect(await restartAndWait({engine, clock: engine.clock}, crash.id, 10_000)).toBe('the container exited after the restart')

    const plain = engine.add({name: 'plain'})
    const started = engine.clock.now()
    expect(await restartAndWait({engine, clock: engine.clock}, plain.id, 10_000)).toBeUndefined()
    expect(engine.clock.now() - started).toBeGreaterThanOrEqual(3000)

    const slow = engine.add({name: 'slow', healthcheck: () => true})
    engine.healthDelayMs = 60_000
    const waited = await restartAndWait({engine, clock: engine.clock}, slow.id, 5000)
    expect(waited).toBe('not healthy within 5 s (no healthcheck since the restart)')
  })

  it('a container without a healthcheck but with a port: its health route answering short of a 5xx passes', async () => {
    const engine = new FakeEngine()
    const web = engine.add({name: 'web', ports: [{host: 18080, container: 80}]})
    const asked: string[] = []
    const answers = [undefined, 503, 404]
    const probe = async (url: string) => {
      asked.push(url)
      return {healthy: false, status: answers.shift(), detail: 'refused'}
    }
    expect(await restartAndWait({engine, clock: engine.clock, probe}, web.id, 10_000)).toBeUndefined()
    expect(asked).toEqual(Array(3).fill('http://127.0.0.1:18080'))
  })
})

describe('the container lock', () => {
  it('waits while another holder has it, then runs on the container as it is under the lock', async () => {
    const engine = new FakeEngine()
    const cfg = config()
    const web = engine.add({name: 'web'})
    const release = acquireLock(containerLockPath(cfg, web.id), `container ${web.name}`, 'LOCKED')
    const waited: string[] = []
    const log = (line: string) => {
      waited.push(line)
      // The other holder finishes while this one waits; meanwhile it stopped the container.
      if (waited.length === 2) {
        web.state = 'exited'
        release()
      }
    }
    const seen = await withContainerLock({engine, config: cfg, clock: engine.clock, log}, web, async (d) => d.state)
    expect(seen).toBe('exited')
    expect(waited).toEqual(Array(2).fill(`waiting: container web is in use by process ${process.pid} (this process)`))
  })

  it("gives up after its timeout with LOCKED naming the holder, never running fn; fn's own failure releases it", async () => {
    const engine = new FakeEngine()
    const cfg = config()
    const web = engine.add({name: 'web'})
    const release = acquireLock(containerLockPath(cfg, web.id), 'container web', 'LOCKED')
    let ran = false
    const locked = withContainerLock({engine, config: cfg, clock: engine.clock}, web, async () => (ran = true), 5000)
    const err = await locked.catch((e: unknown) => e)
    expect(isPlatformError(err, 'LOCKED')).toBe(true)
    expect((err as Error).message).toContain(`in use by process ${process.pid}`)
    expect(ran).toBe(false)
    release()

    await expect(withContainerLock({engine, config: cfg}, web, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(await withContainerLock({engine, config: cfg}, web, async () => 'free again')).toBe('free again')
  })
})

describe('port ownership', () => {
  let server: Server | undefined
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

  it('a running container that publishes it, else a process on this machine (a real socket), else nobody', async () => {
    const engine = new FakeEngine()
    const [a, b, c] = [await freePort(), await freePort(), await freePort()]
    engine.add({name: 'shop_web_1', project: 'shop', ports: [{host: a, container: 80}]})
    engine.add({name: 'stopped', state: 'exited', ports: [{host: c, container: 80}]})
    expect(await portOwner(engine, a)).toMatchObject({container: {name: 'shop_web_1', project: 'shop'}})
    server = createServer()
    await new Promise<void>((resolve) => server!.listen(b, '127.0.0.1', resolve))
    expect((await portOwner(engine, b))?.process).toMatch(new RegExp(`^pid ${process.pid} \\(`))
    expect(await portOwner(engine, c)).toBeUndefined()
  })
})
