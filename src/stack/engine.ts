import type Docker from 'dockerode'
import {PlatformError} from '../core/index.js'

export interface PortBinding {
  host: number
  container: number
  ip?: string
}

export interface ContainerSummary {
  id: string
  name: string
  /** the image reference it was created from, e.g. prom/prometheus:v2 */
  image: string
  imageId: string
  /** running, exited, created, restarting, paused, dead */
  state: string
  project?: string
  service?: string
  labels: Record<string, string>
  ports: PortBinding[]
  /** seconds since the epoch */
  created: number
}

export interface ContainerDetail extends ContainerSummary {
  health?: 'healthy' | 'unhealthy' | 'starting'
  /** the last healthcheck output, when there is one */
  healthLog?: string
  /** when the last healthcheck ended: a status from before the last (re)start says nothing of now */
  healthCheckedAt?: string
  startedAt?: string
  mounts: Array<{type: string; name?: string; source?: string; destination: string}>
}

/**
 * The little of the Docker Engine API the platform uses. Built once (createEngine) and
 * passed to the services, so tests can hand them another implementation.
 */
export interface Engine {
  readonly host: string
  ping(): Promise<void>
  containers(opts?: {project?: string; all?: boolean}): Promise<ContainerSummary[]>
  inspect(id: string): Promise<ContainerDetail>
  /** The id of the image a reference names now, or undefined when there is none. */
  imageId(ref: string): Promise<string | undefined>
  logs(id: string, opts?: {tail?: number; since?: number}): Promise<string>
  follow(id: string, onData: (chunk: string) => void, opts?: {since?: number; tail?: number}): Promise<() => void>
  start(id: string): Promise<void>
  stop(id: string, timeoutS?: number): Promise<void>
  restart(id: string, timeoutS?: number): Promise<void>
  remove(id: string): Promise<void>
  exec(id: string, cmd: string[]): Promise<{exitCode: number; output: string}>
  getArchive(id: string, path: string): Promise<NodeJS.ReadableStream>
  putArchive(id: string, path: string, tar: NodeJS.ReadableStream | Buffer): Promise<void>
  volumeExists(name: string): Promise<boolean>
  /** Copies a named volume's data into another (created with labels when missing), through two never-started containers of image. */
  copyVolume(from: string, to: string, image: string, labels: Record<string, string>): Promise<void>
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT'])

/** The engine's address: DOCKER_HOST (in a form the docker CLI takes), else the local socket. */
export function dockerHost(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock'
  if (!/^(unix|npipe):\/\/\/?\S+$|^(tcp|http|https|ssh):\/\/[^\s/]+/.test(host)) {
    throw new PlatformError('USAGE', `DOCKER_HOST=${host} is not a Docker engine address`, {
      suggestion: 'set it to unix:///path/to/docker.sock or tcp://host:2375, or unset it for the local engine',
    })
  }
  return host
}

/**
 * Engine errors in the catalogue's terms: no daemon (or, for a Swarm call, an engine that is no swarm
 * manager) is ENVIRONMENT_UNAVAILABLE (exit 3), a missing object NOT_FOUND. Both halves of the engine use it, through dockerClient.
 */
function translate(err: unknown, host: string): unknown {
  const e = err as {code?: string; statusCode?: number; message?: string; json?: {message?: string}}
  if (e.code && UNREACHABLE.has(e.code)) {
    return new PlatformError('ENVIRONMENT_UNAVAILABLE', `Docker is not reachable at ${host} (${e.code})`, {
      suggestion: 'start the Docker engine (e.g. `sudo systemctl start docker`) or point DOCKER_HOST at a running one',
      cause: err,
    })
  }
  if (e.statusCode === 404) return new PlatformError('NOT_FOUND', e.json?.message ?? e.message ?? 'not found', {cause: err})
  if (e.statusCode === 304) return err
  if (e.statusCode === 503) {
    const said = (e.json?.message ?? e.message ?? '').trim()
    return new PlatformError('ENVIRONMENT_UNAVAILABLE', `the Docker engine at ${host} is not a swarm manager (${said})`, {
      suggestion: 'run `docker swarm init` (or `platform up --swarm --init`) on this engine, or point DOCKER_HOST at a manager',
      cause: err,
    })
  }
  if (e.statusCode) {
    const said = e.json?.message ?? e.message ?? `HTTP ${e.statusCode}`
    return new PlatformError('CHECK_FAILED', `the Docker engine refused: ${said}`, {cause: err})
  }
  return err
}

function summary(c: Docker.ContainerInfo): ContainerSummary {
  const labels = c.Labels ?? {}
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id).replace(/^\//, ''),
    image: c.Image,
    imageId: c.ImageID,
    state: c.State,
    project: labels['com.docker.compose.project'],
    service: labels['com.docker.compose.service'],
    labels,
    ports: (c.Ports ?? []).filter((p) => p.PublicPort).map((p) => ({host: p.PublicPort, container: p.PrivatePort, ip: p.IP})),
    created: c.Created,
  }
}

/** Docker's multiplexed stdout/stderr frames as text. */
export function demux(buf: Buffer): string {
  if (buf.length < 8 || buf[0]! > 2 || buf[1] !== 0) return buf.toString('utf8')
  const parts: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4)
    parts.push(buf.subarray(i + 8, i + 8 + len))
    i += 8 + len
  }
  return Buffer.concat(parts).toString('utf8')
}

const logRange = (opts: {tail?: number; since?: number}) => ({...(opts.tail ? {tail: opts.tail} : {}), since: opts.since ?? 0})

/**
 * A dockerode client for DOCKER_HOST, and `wrap`, which runs a call and turns its failure into
 * the catalogue's error: what both halves of the engine (containers, Swarm) are built on.
 */
export async function dockerClient(env: NodeJS.ProcessEnv = process.env) {
  const {default: DockerCtor} = await import('dockerode')
  const host = dockerHost(env)
  const docker = new DockerCtor()
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      throw translate(err, host)
    }
  }
  return {docker, host, wrap}
}

export async function createEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const {docker, host, wrap} = await dockerClient(env)
  const ignore304 = (err: {statusCode?: number}) => {
    if (err.statusCode !== 304) throw err
  }

  const engine: Engine = {
    host,
    ping: () => wrap(async () => void (await docker.ping())),
    containers: (opts = {}) =>
      wrap(async () => {
        const filters = opts.project ? {filters: {label: [`com.docker.compose.project=${opts.project}`]}} : {}
        const list = await docker.listContainers({all: opts.all ?? true, ...filters})
        return list.map(summary)
      }),
    inspect: (id) =>
      wrap(async () => {
        const c = await docker.getContainer(id).inspect()
        const labels = c.Config.Labels ?? {}
        const ports: PortBinding[] = []
        for (const [key, binds] of Object.entries(c.NetworkSettings.Ports ?? {})) {
          for (const b of binds ?? []) {
            if (b.HostPort) ports.push({host: Number(b.HostPort), container: Number.parseInt(key, 10), ip: b.HostIp})
          }
        }
        const health = c.State.Health
        return {
          id: c.Id,
          name: c.Name.replace(/^\//, ''),
          image: c.Config.Image,
          imageId: c.Image,
          state: c.State.Status,
          project: labels['com.docker.compose.project'],
          service: labels['com.docker.compose.service'],
          labels,
          ports,
          created: Math.floor(Date.parse(c.Created) / 1000),
          health: health?.Status as ContainerDetail['health'],
          healthLog: health?.Log?.at(-1)?.Output?.trim(),
          healthCheckedAt: health?.Log?.at(-1)?.End,
          startedAt: c.State.Running ? c.State.StartedAt : undefined,
          mounts: (c.Mounts ?? []).map((m) => ({type: m.Type, name: m.Name, source: m.Source, destination: m.Destination})),
        }
      }),
    imageId: (ref) =>
      wrap(async () => {
        try {
          return (await docker.getImage(ref).inspect()).Id
        } catch (err) {
          if ((err as {statusCode?: number}).statusCode === 404) return undefined
          throw err
        }
      }),
    logs: (id, opts = {}) =>
      wrap(async () => {
        const buf = await docker.getContainer(id).logs({stdout: true, stderr: true, follow: false, ...logRange(opts)})
        return demux(buf)
      }),
    follow: (id, onData, opts = {}) =>
      wrap(async () => {
        const stream = await docker.getContainer(id).logs({stdout: true, stderr: true, follow: true, ...logRange(opts)})
        const write = (chunk: Buffer) => {
          onData(chunk.toString('utf8'))
          return true
        }
        const sink = {write} as unknown as NodeJS.WritableStream
        docker.modem.demuxStream(stream, sink, sink)
        return () => (stream as unknown as {destroy(): void}).destroy()
      }),
    start: (id) => wrap(() => docker.getContainer(id).start().catch(ignore304)),
    stop: (id, t = 10) => wrap(() => docker.getContainer(id).stop({t}).catch(ignore304)),
    restart: (id, t = 10) => wrap(() => docker.getContainer(id).restart({t})),
    remove: (id) => wrap(() => docker.getContainer(id).remove({force: true})),
    exec: (id, cmd) =>
      wrap(async () => {
        const ex = await docker.getContainer(id).exec({Cmd: cmd, AttachStdout: true, AttachStderr: true})
        const stream = await ex.start({hijack: true, stdin: false})
        const chunks: Buffer[] = []
        await new Promise<void>((resolve, reject) => {
          stream.on('data', (c: Buffer) => chunks.push(c))
          stream.on('end', resolve)
          stream.on('error', reject)
        })
        const info = await ex.inspect()
        return {exitCode: info.ExitCode ?? -1, output: demux(Buffer.concat(chunks))}
      }),
    getArchive: (id, path) => wrap(() => docker.getContainer(id).getArchive({path})),
    putArchive: (id, path, tar) => wrap(async () => void (await docker.getContainer(id).putArchive(tar as NodeJS.ReadableStream, {path}))),
    volumeExists: (name) =>
      wrap(async () => {
        try {
          await docker.getVolume(name).inspect()
          return true
        } catch (err) {
          if ((err as {statusCode?: number}).statusCode === 404) return false
          throw err
        }
      }),
    copyVolume: (from, to, image, labels) =>
      wrap(async () => {
        if (!(await engine.volumeExists(to))) await docker.createVolume({Name: to, Labels: labels})
        // Containers that are created but never started: the archive API reads and writes
        // their mounts without needing a shell or cp in the image. Both mount at /data.
        const src = await docker.createContainer({Image: image, Entrypoint: ['/nonexistent'], HostConfig: {Binds: [`${from}:/data:ro`]}})
        const dst = await docker.createContainer({Image: image, Entrypoint: ['/nonexistent'], HostConfig: {Binds: [`${to}:/data`]}})
        try {
          const tar = await src.getArchive({path: '/data/.'})
          await dst.putArchive(tar, {path: '/data'})
        } finally {
          await src.remove({force: true}).catch(() => {})
          await dst.remove({force: true}).catch(() => {})
        }
      }),
  }
  return engine
}
