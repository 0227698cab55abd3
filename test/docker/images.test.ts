/**
 * The offline test images (test/support/docker.ts) on a real dockerd: each one does what the
 * platform stack (platform/docker-compose.app.yml, platform/Dockerfile) needs from the
 * official image it stands in for. Images stay behind as a cache; containers and volumes do not.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {waitFor} from '../support/wait.js'
import {buildTestImages, docker, dockerAvailable, startDockerd, type Dockerd, type TestImages} from '../support/docker.js'

const skip = !dockerAvailable() && process.env.CI !== 'true'
if (skip)
  console.warn(
    '[platform tests] no Docker daemon answers and dockerd cannot be started here: the docker tier is skipped. ' +
      'Run the tests as root with docker.io installed (`npm test` installs it), or set DOCKER_HOST.',
  )

const PLATFORM_DOCKERFILE = join(dirname(fileURLToPath(import.meta.url)), '../../platform/Dockerfile')

describe.skipIf(skip)('offline test images', () => {
  let dockerd: Dockerd | undefined
  let host = ''
  let images: TestImages
  const prefix = `platform-test-${randomBytes(4).toString('hex')}`
  const containers: string[] = []
  const volumes: string[] = []
  const builtImages: string[] = []
  const tempDirs: string[] = []

  const out = async (args: string[]) => String((await docker(host, args)).stdout).trim()
  const succeeds = async (args: string[]) => (await docker(host, args, {reject: false})).exitCode === 0
  const container = (role: string) => {
    const name = `${prefix}-${role}`
    containers.push(name)
    return name
  }
  const volume = async (role: string) => {
    const name = `${prefix}-${role}`
    volumes.push(name)
    await docker(host, ['volume', 'create', name])
    return name
  }
  /** host:port of a container port published on 127.0.0.1 with a free host port. */
  const published = async (name: string, port: number) => (await out(['port', name, `${port}/tcp`])).split('\n')[0]!
  /** On a timeout, what the container said is usually the answer. */
  const logs = (name: string) => async () => {
    const r = await docker(host, ['logs', '--tail', '30', name], {reject: false})
    return `logs of ${name}:\n${String(r.stdout)}\n${String(r.stderr)}`
  }

  beforeAll(async () => {
    dockerd = await startDockerd()
    host = dockerd.host
    // A cold build copies ~250 MB of binaries and libraries into four images.
    images = await buildTestImages(host)
  }, 300_000)

  afterAll(async () => {
    if (host) {
      if (containers.length > 0) await docker(host, ['rm', '--force', '--volumes', ...containers], {reject: false})
      if (volumes.length > 0) await docker(host, ['volume', 'rm', '--force', ...volumes], {reject: false})
      if (builtImages.length > 0) await docker(host, ['rmi', '--force', ...builtImages], {reject: false})
    }
    for (const dir of tempDirs) rmSync(dir, {recursive: true, force: true})
    dockerd?.stop()
  }, 60_000)

  it('node: runs Node 20, has a node user and a busybox shell', async () => {
    expect(await out(['run', '--rm', images.node, 'node', '-e', 'console.log(process.version)'])).toMatch(/^v20\./)
    expect(await out(['run', '--rm', '--user', 'node', images.node, 'sh', '-c', 'id -un && echo written > /tmp/f && cat /tmp/f'])).toBe(
      'node\nwritten',
    )
  })

  it("node: is a BASE_IMAGE for the platform's own Dockerfile (WORKDIR/COPY/ENV/ENTRYPOINT, no RUN)", async () => {
    const context = mkdtempSync(join(tmpdir(), 'platform-app-context-'))
    tempDirs.push(context)
    mkdirSync(join(context, 'bin'))
    // Stands in for the CLI: reports what the Dockerfile set up, and that glibc resolves names
    // in this minimal rootfs (the stack's services find each other by name).
    writeFileSync(
      join(context, 'bin/run.js'),
      `require('node:dns').lookup('localhost', {family: 4}, (err, address) => {
  const seen = {args: process.argv.slice(2), env: process.env.NODE_ENV, cwd: process.cwd(), localhost: err ? err.code : address}
  console.log(JSON.stringify(seen))
})\n`,
    )
    const tag = `${prefix}-app:latest`
    builtImages.push(tag)
    // The classic builder, as docker-compose 1.29 builds.
    await docker(
      host,
      ['build', '--quiet', '--file', PLATFORM_DOCKERFILE, '--build-arg', `BASE_IMAGE=${images.node}`, '--tag', tag, context],
      {env: {DOCKER_BUILDKIT: '0'}},
    )
    expect(JSON.parse(await out(['run', '--rm', tag]))).toEqual({args: ['--help'], env: 'production', cwd: '/app', localhost: '127.0.0.1'})
  })

  it('postgres: initialises a new named volume from POSTGRES_*, takes password logins from the host, ' +
    'stops cleanly and keeps its data', async () => {
    const data = await volume('pgdata')
    const env = ['-e', 'POSTGRES_USER=platform', '-e', 'POSTGRES_DB=platform']
    const start = async (name: string, password: string) => {
      await docker(host, [
        'run',
        '--detach',
        '--name',
        name,
        ...env,
        '-e',
        `POSTGRES_PASSWORD=${password}`,
        '-v',
        `${data}:/var/lib/postgresql/data`,
        '-p',
        '127.0.0.1::5432',
        images.postgres,
      ])
      // The stack's healthcheck, verbatim.
      await waitFor(`pg_isready in ${name}`, () => succeeds(['exec', name, 'pg_isready', '-U', 'platform', '-d', 'platform']), {
        detail: logs(name),
      })
      return published(name, 5432)
    }
    const connect = async (address: string, password: string) => {
      const client = new pg.Client({connectionString: `postgresql://platform:${password}@${address}/platform`})
      client.on('error', () => {}) // the server going away under an idle client is part of the test
      await client.connect()
      return client
    }

    const first = container('pg1')
    const address = await start(first, 's3cret')
    await expect(connect(address, 'wrong')).rejects.toThrow(/password authentication failed/)
    const client = await connect(address, 's3cret')
    expect((await client.query('SELECT current_user AS u, current_database() AS d')).rows).toEqual([{u: 'platform', d: 'platform'}])
    await client.query('CREATE TABLE kept (v text)')
    await client.query("INSERT INTO kept VALUES ('written before the restart')")

    // The client stays connected: on SIGTERM ("smart" shutdown) PostgreSQL would wait for it
    // until docker stop gives up and kills it (exit 137); the image's STOPSIGNAL is SIGINT.
    await docker(host, ['stop', '--time', '20', first])
    expect(await out(['inspect', '--format', '{{.State.ExitCode}}', first])).toBe('0')
    await client.end().catch(() => {})
    await docker(host, ['rm', first])

    // A new container on the same volume: no second initdb, so the new POSTGRES_PASSWORD is ignored (as in the official image).
    const second = container('pg2')
    const again = await connect(await start(second, 'ignored-on-existing-data'), 's3cret')
    try {
      expect((await again.query('SELECT v FROM kept')).rows).toEqual([{v: 'written before the restart'}])
    } finally {
      await again.end()
    }
  }, 120_000)

  it('prometheus: runs as nobody on a new named volume, with its default config, ' +
    "and answers /-/ready (also to the stack's wget healthcheck)", async () => {
    const name = container('prometheus')
    await docker(host, [
      'run',
      '--detach',
      '--name',
      name,
      '-v',
      `${await volume('prometheus')}:/prometheus`,
      '-p',
      '127.0.0.1::9090',
      images.prometheus,
    ])
    const address = await published(name, 9090)
    const ready = await waitFor('prometheus /-/ready', async () => (await fetch(`http://${address}/-/ready`)).status === 200, {
      detail: logs(name),
    })
    expect(ready).toBe(true)
    expect(await succeeds(['exec', name, 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready'])).toBe(true)
    expect(await out(['exec', name, 'id', '-un'])).toBe('nobody')
    const config = (await (await fetch(`http://${address}/api/v1/status/config`)).json()) as {data: {yaml: string}}
    expect(config.data.yaml).toContain('job_name: prometheus')
  }, 90_000)

  it('busybox: serves a file with httpd', async () => {
    const name = container('httpd')
    await docker(host, [
      'run',
      '--detach',
      '--name',
      name,
      '-p',
      '127.0.0.1::8080',
      images.busybox,
      'sh',
      '-c',
      'mkdir -p /www && echo "served by busybox" > /www/index.html && exec busybox httpd -f -p 8080 -h /www',
    ])
    const address = await published(name, 8080)
    const body = await waitFor(
      'busybox httpd',
      async () => {
        const res = await fetch(`http://${address}/index.html`)
        return res.ok && (await res.text())
      },
      {detail: logs(name)},
    )
    expect(body).toBe('served by busybox\n')
  })
})
