/**
 * An Engine held in memory, for unit tests of the container lifecycle, doctor, relocation and
 * patches without a Docker daemon: containers with labels, state, ports, a healthcheck, files
 * and a command that runs at every start; images, volumes, and scripted failures. The docker
 * tier runs the same code on a real dockerd, which is what keeps this one honest.
 */
import {posix} from 'node:path'
import {Readable} from 'node:stream'
import tar from 'tar-stream'
import {PlatformError, type Clock} from '../core/index.js'
import type {Compose} from './compose.js'
import {PROJECT, type ServiceSpec} from './composefile.js'
import type {ContainerDetail, ContainerSummary, Engine, PortBinding} from './engine.js'
import {unpackFiles} from './tarball.js'

export interface FakeFile {
  content: Buffer
  mode: number
}

export type FakeFiles = Map<string, FakeFile>

export interface FakeContainerInit {
  id?: string
  name: string
  image?: string
  imageId?: string
  /** running (the default, started at add), exited, created */
  state?: string
  project?: string
  service?: string
  labels?: Record<string, string>
  ports?: PortBinding[]
  files?: Record<string, string | Buffer>
  /** its Docker healthcheck, run on its files healthDelayMs after each start; without one it has none */
  healthcheck?: (files: FakeFiles) => boolean
  /** what its command does at each start; false means it exits at once */
  command?: (files: FakeFiles) => boolean | undefined
  mounts?: ContainerDetail['mounts']
  created?: number
  log?: string
}

type Given = 'id' | 'name' | 'image' | 'imageId' | 'labels' | 'ports' | 'mounts' | 'created'

export interface FakeContainer extends Required<Pick<FakeContainerInit, Given>> {
  state: string
  files: FakeFiles
  healthcheck?: FakeContainerInit['healthcheck']
  command?: FakeContainerInit['command']
  health?: 'healthy' | 'unhealthy' | 'starting'
  healthCheckedAt?: string
  startedAt?: string
  log: string
  starts: number
}

/** A clock for waits: sleeping moves it on at once (after letting other work run), so a 60 s wait takes no time. */
export class FakeClock implements Clock {
  constructor(public time = Date.parse('2026-01-01T00:00:00Z')) {}
  now = (): number => this.time
  sleep = async (ms: number): Promise<void> => {
    this.time += ms
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const toFiles = (files: Record<string, string | Buffer> = {}): FakeFiles =>
  new Map(Object.entries(files).map(([p, c]) => [p, {content: Buffer.from(c), mode: 0o644}]))

export class FakeEngine implements Engine {
  readonly host = 'fake://engine'
  /** every call, in order: what a test asserts the order of operations on */
  readonly calls: Array<{op: string; id?: string; arg?: string}> = []
  readonly images = new Map<string, string>()
  readonly volumes = new Map<string, {labels: Record<string, string>; files: FakeFiles}>()
  /** how long after a start its healthcheck first reports */
  healthDelayMs = 1000
  /** every call fails as when no daemon answers */
  unreachable = false
  private readonly byId = new Map<string, FakeContainer>()
  private readonly failures: Array<{op: string; error: Error}> = []
  private seq = 0

  constructor(readonly clock: FakeClock = new FakeClock()) {}

  add(init: FakeContainerInit): FakeContainer {
    const id = init.id ?? `${(++this.seq).toString(16).padStart(4, '0')}${'f'.repeat(60)}`
    const labels = {
      ...(init.project ? {'com.docker.compose.project': init.project} : {}),
      ...(init.service ? {'com.docker.compose.service': init.service} : {}),
      ...init.labels,
    }
    const image = init.image ?? 'fake/image:1'
    if (!this.images.has(image)) this.images.set(image, init.imageId ?? `sha256:${image}`)
    const c: FakeContainer = {
      id,
      name: init.name,
      image,
      imageId: init.imageId ?? this.images.get(image)!,
      labels,
      ports: init.ports ?? [],
      mounts: init.mounts ?? [],
      created: init.created ?? Math.floor(this.clock.now() / 1000) + this.seq,
      state: 'created',
      files: toFiles(init.files),
      healthcheck: init.healthcheck,
      command: init.command,
      log: init.log ?? '',
      starts: 0,
    }
    this.byId.set(id, c)
    if ((init.state ?? 'running') === 'running') this.boot(c)
    else c.state = init.state!
    return c
  }

  /** A container by id or name. */
  get(ref: string): FakeContainer {
    const c = this.byId.get(ref) ?? [...this.byId.values()].find((x) => x.name === ref)
    if (!c) throw new PlatformError('NOT_FOUND', `No such container: ${ref}`)
    return c
  }

  all(): FakeContainer[] {
    return [...this.byId.values()]
  }

  /** The next call of op throws error (once). */
  failNext(op: keyof Engine, error?: Error): void {
    this.failures.push({op, error: error ?? new PlatformError('CHECK_FAILED', `the Docker engine refused: scripted failure of ${op}`)})
  }

  text(ref: string, path: string): string | undefined {
    return this.get(ref).files.get(path)?.content.toString('utf8')
  }

  private enter(op: string, id?: string, arg?: string): void {
    if (this.unreachable) {
      throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `Docker is not reachable at ${this.host} (ECONNREFUSED)`, {
        suggestion: 'point DOCKER_HOST at a running one',
      })
    }
    this.calls.push({op, ...(id ? {id} : {}), ...(arg ? {arg} : {})})
    const i = this.failures.findIndex((f) => f.op === op)
    if (i >= 0) throw this.failures.splice(i, 1)[0]!.error
  }

  private boot(c: FakeContainer): void {
    c.starts++
    c.state = 'running'
    c.startedAt = new Date(this.clock.now()).toISOString()
    if (c.healthcheck && !c.health) c.health = 'starting'
    if (c.command?.(c.files) === false) {
      c.state = 'exited'
      c.startedAt = undefined
    }
  }

  private summary(c: FakeContainer): ContainerSummary {
    return {
      id: c.id,
      name: c.name,
      image: c.image,
      imageId: c.imageId,
      state: c.state,
      project: c.labels['com.docker.compose.project'],
      service: c.labels['com.docker.compose.service'],
      labels: c.labels,
      ports: c.state === 'running' ? c.ports : [],
      created: c.created,
    }
  }

  async ping(): Promise<void> {
    this.enter('ping')
  }

  async containers(opts: {project?: string; all?: boolean} = {}): Promise<ContainerSummary[]> {
    this.enter('containers')
    return this.all()
      .filter((c) => (opts.all ?? true) || c.state === 'running')
      .filter((c) => !opts.project || c.labels['com.docker.compose.project'] === opts.project)
      .map((c) => this.summary(c))
  }

  async inspect(id: string): Promise<ContainerDetail> {
    this.enter('inspect', id)
    const c = this.get(id)
    const since = c.startedAt ? this.clock.now() - Date.parse(c.startedAt) : 0
    if (c.state === 'running' && c.healthcheck && since >= this.healthDelayMs) {
      c.health = c.healthcheck(c.files) ? 'healthy' : 'unhealthy'
      c.healthCheckedAt = new Date(this.clock.now()).toISOString()
    }
    return {
      ...this.summary(c),
      health: c.healthcheck ? c.health : undefined,
      healthLog: c.health === 'unhealthy' ? 'check failed' : undefined,
      healthCheckedAt: c.healthCheckedAt,
      startedAt: c.startedAt,
      mounts: c.mounts,
    }
  }

  async imageId(ref: string): Promise<string | undefined> {
    this.enter('imageId', undefined, ref)
    return this.images.get(ref)
  }

  async logs(id: string): Promise<string> {
    this.enter('logs', id)
    return this.get(id).log
  }

  async follow(id: string, onData: (chunk: string) => void): Promise<() => void> {
    this.enter('follow', id)
    onData(this.get(id).log)
    return () => {}
  }

  async start(id: string): Promise<void> {
    this.enter('start', id)
    const c = this.get(id)
    if (c.state !== 'running') this.boot(c)
  }

  async stop(id: string): Promise<void> {
    this.enter('stop', id)
    const c = this.get(id)
    c.state = 'exited'
    c.startedAt = undefined
  }

  async restart(id: string): Promise<void> {
    this.enter('restart', id)
    this.boot(this.get(id))
  }

  async remove(id: string): Promise<void> {
    this.enter('remove', id)
    this.byId.delete(this.get(id).id)
  }

  async exec(id: string, cmd: string[]): Promise<{exitCode: number; output: string}> {
    this.enter('exec', id, cmd.join(' '))
    const c = this.get(id)
    if (c.state !== 'running') throw new PlatformError('CHECK_FAILED', `the Docker engine refused: container ${c.id} is not running`)
    if (cmd[0] === 'rm' && cmd[1] === '-f') {
      for (const p of cmd.slice(2)) c.files.delete(p)
      return {exitCode: 0, output: ''}
    }
    return {exitCode: 127, output: `sh: ${cmd[0]}: not found\n`}
  }

  async getArchive(id: string, path: string): Promise<NodeJS.ReadableStream> {
    this.enter('getArchive', id, path)
    const c = this.get(id)
    const pack = tar.pack()
    const file = c.files.get(path)
    const under = [...c.files.entries()].filter(([p]) => p.startsWith(`${path.replace(/\/$/, '')}/`)).sort(([a], [b]) => a.localeCompare(b))
    if (file) pack.entry({name: posix.basename(path), mode: file.mode, type: 'file'}, file.content)
    else if (under.length) {
      const base = posix.basename(path)
      pack.entry({name: `${base}/`, type: 'directory', mode: 0o755})
      for (const [p, f] of under) pack.entry({name: posix.join(base, posix.relative(path, p)), mode: f.mode, type: 'file'}, f.content)
    } else throw new PlatformError('NOT_FOUND', `Could not find the file ${path} in container ${c.id}`)
    pack.finalize()
    return pack as unknown as NodeJS.ReadableStream
  }

  async putArchive(id: string, path: string, input: NodeJS.ReadableStream | Buffer): Promise<void> {
    this.enter('putArchive', id, path)
    const c = this.get(id)
    for (const e of await unpackFiles(Buffer.isBuffer(input) ? Readable.from([input]) : input)) {
      if (e.type === 'file') c.files.set(posix.join(path, e.name), {content: e.content, mode: e.mode})
    }
  }

  async volumeExists(name: string): Promise<boolean> {
    this.enter('volumeExists', undefined, name)
    return this.volumes.has(name)
  }

  async copyVolume(from: string, to: string, _image: string, labels: Record<string, string>): Promise<void> {
    this.enter('copyVolume', undefined, `${from} -> ${to}`)
    const source = this.volumes.get(from)
    if (!source) throw new PlatformError('NOT_FOUND', `get ${from}: no such volume`)
    if (!this.volumes.has(to)) this.volumes.set(to, {labels, files: new Map()})
    for (const [p, f] of source.files) this.volumes.get(to)!.files.set(p, f)
  }
}

/**
 * Compose for the fake engine: `up -d [--no-deps] [--no-build] [SERVICE]` creates the project's
 * containers from the compose file's services (labels, image, published ports, named volumes),
 * `down` removes them. What a container does is given per service.
 */
export function fakeCompose(
  engine: FakeEngine,
  specs: ServiceSpec[],
  behaviour: Record<string, Partial<FakeContainerInit>> = {},
): Compose & {runs: string[][]} {
  const runs: string[][] = []
  return {
    flavour: 'docker compose',
    runs,
    async run(args) {
      runs.push(args)
      const own = () => engine.all().filter((c) => c.labels['com.docker.compose.project'] === PROJECT)
      if (args[0] === 'down') {
        for (const c of own()) await engine.remove(c.id)
        return
      }
      if (args[0] !== 'up') return
      const named = args.filter((a, i) => i > 0 && !a.startsWith('-'))
      for (const spec of specs.filter((s) => !named.length || named.includes(s.name))) {
        const running = own().find((c) => c.labels['com.docker.compose.service'] === spec.name)
        if (running) {
          if (running.state !== 'running') await engine.start(running.id)
          continue
        }
        const mounts = spec.volumes.map((v) => ({type: 'volume', name: `${PROJECT}_${v.name}`, destination: v.target}))
        for (const m of mounts) if (!engine.volumes.has(m.name)) engine.volumes.set(m.name, {labels: {}, files: new Map()})
        engine.add({
          name: `${PROJECT}-${spec.name}-1`,
          project: PROJECT,
          service: spec.name,
          image: spec.image,
          ports: spec.ports.map((p) => ({host: p.host, container: p.container, ip: '127.0.0.1'})),
          mounts,
          ...(spec.healthcheck ? {healthcheck: () => true} : {}),
          ...behaviour[spec.name],
        })
      }
    },
  }
}
