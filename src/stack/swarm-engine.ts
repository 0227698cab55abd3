import type Docker from 'dockerode'
import {PlatformError} from '../core/index.js'
import {demux, dockerClient} from './engine.js'

export interface SwarmNode {
  id: string
  hostname: string
  role: string
  /** ready, down, unknown */
  state: string
  addr: string
  labels: Record<string, string>
}

export interface SwarmService {
  id: string
  /** the stack's name for it (l09-api-gateway), without the stack prefix */
  name: string
  /** the stack it belongs to (com.docker.stack.namespace), when it was deployed as part of one */
  stack?: string
  /** Swarm's name for it (platform_l09-api-gateway) */
  fullName: string
  image: string
  /** the image before the last update, when there was one */
  previousImage?: string
  desired: number
  /** published:target */
  ports: Array<{published: number; target: number}>
  /** updating, completed, paused, rollback_started, rollback_completed, rollback_paused */
  update?: {state: string; message?: string}
  labels: Record<string, string>
}

export interface SwarmTask {
  id: string
  slot?: number
  nodeId: string
  /** new, pending, ..., starting, running, complete, failed, shutdown, rejected */
  state: string
  desiredState: string
  error?: string
  containerId?: string
  image: string
  /** ISO time of the last state change */
  at: string
}

/** The Swarm half of the Docker Engine API the platform uses; built once and passed to the services. */
export interface SwarmEngine {
  readonly host: string
  /** This engine's place in a swarm: inactive, pending, active, error, locked; manager or not. */
  info(): Promise<{state: string; manager: boolean; nodeId?: string; nodeAddr?: string}>
  init(advertiseAddr?: string): Promise<void>
  nodes(): Promise<SwarmNode[]>
  addNodeLabels(id: string, labels: Record<string, string>): Promise<void>
  /** The services of one stack, or (no stack) every service of the swarm. */
  services(stack?: string): Promise<SwarmService[]>
  tasks(serviceFullName: string): Promise<SwarmTask[]>
  /** A rolling update to another image, with the service's own update policy. */
  setImage(serviceId: string, image: string): Promise<void>
  /** Swarm's own rollback to the spec before the last update. */
  rollback(serviceId: string): Promise<void>
  /** Log lines of every task of a service, each with its task id (details). */
  logs(serviceId: string, opts: {tail?: number; since?: number}): Promise<Array<{task: string; line: string}>>
  /** A container of image that is never started: its files can be read and written, and it can be committed. */
  createIdle(image: string): Promise<string>
  /** `docker commit`: the container's files as a new image tagged ref, with its image's configuration; returns the image id. */
  commit(containerId: string, ref: string, labels: Record<string, string>): Promise<string>
  /** Tags an image (ref = repository:tag), pushes it to the registry its name holds, and returns the digest the registry gave it. */
  push(image: string, ref: string): Promise<string | undefined>
  /** Networks, secrets and configs still labelled with the stack (they go after its services). */
  leftovers(stack: string): Promise<string[]>
  /** Creates a service from an Engine API spec (not part of a stack); returns its id. */
  createService(spec: Docker.CreateServiceOptions): Promise<string>
  /** Removes a service by name or id; false when there was none. */
  removeService(name: string): Promise<boolean>
  /** Creates a secret; returns its id. */
  createSecret(name: string, data: string, labels: Record<string, string>): Promise<string>
  /** Removes a secret by name or id; false when there was none. */
  removeSecret(name: string): Promise<boolean>
}

/** The Engine API's JSON for a node and a task, as far as it is read here. */
interface RawNode {
  ID: string
  Version?: {Index?: number}
  Description?: {Hostname?: string}
  Spec?: {Role?: string; Labels?: Record<string, string>}
  Status?: {State?: string; Addr?: string}
}
interface RawTask {
  ID: string
  Slot?: number
  NodeID?: string
  DesiredState?: string
  UpdatedAt?: string
  Status?: {State?: string; Err?: string; Timestamp?: string; ContainerStatus?: {ContainerID?: string}}
  Spec?: {ContainerSpec?: {Image?: string}}
}

const namespace = (stack: string) => ({label: [`com.docker.stack.namespace=${stack}`]})

function service(s: Docker.Service): SwarmService {
  const spec = s.Spec!
  const full = spec.Name ?? s.ID
  const stack = spec.Labels?.['com.docker.stack.namespace']
  const status = (s as {UpdateStatus?: {State?: string; Message?: string}}).UpdateStatus
  const prev = (s as {PreviousSpec?: Docker.ServiceSpec}).PreviousSpec?.TaskTemplate as {ContainerSpec?: {Image?: string}} | undefined
  const image = (spec.TaskTemplate as {ContainerSpec?: {Image?: string}}).ContainerSpec?.Image ?? ''
  return {
    id: s.ID,
    name: stack && full.startsWith(`${stack}_`) ? full.slice(stack.length + 1) : full,
    ...(stack ? {stack} : {}),
    fullName: full,
    image,
    ...(prev?.ContainerSpec?.Image && prev.ContainerSpec.Image !== image ? {previousImage: prev.ContainerSpec.Image} : {}),
    desired: spec.Mode?.Replicated?.Replicas ?? 0,
    ports: (s.Endpoint?.Ports ?? []).map((p) => ({published: p.PublishedPort ?? 0, target: p.TargetPort ?? 0})),
    ...(status?.State ? {update: {state: status.State, ...(status.Message ? {message: status.Message} : {})}} : {}),
    labels: spec.Labels ?? {},
  }
}

/** Service logs with details=true start with the task's attributes: "com.docker.swarm.node.id=…,…task.id=… message". */
export function taskOfLine(raw: string): {task: string; line: string} {
  const m = /^(\S*com\.docker\.swarm\.task\.id=([^,\s]+)\S*) (.*)$/s.exec(raw)
  return m ? {task: m[2]!, line: m[3]!} : {task: '', line: raw}
}

export async function createSwarmEngine(env: NodeJS.ProcessEnv = process.env): Promise<SwarmEngine> {
  // The same client and error translation as the container half's: one catalogue of engine errors.
  const {docker, host, wrap} = await dockerClient(env)
  /** Removes something; false when it was not there. */
  const gone = (remove: () => Promise<unknown>) =>
    wrap(async () => {
      try {
        await remove()
        return true
      } catch (err) {
        if ((err as {statusCode?: number}).statusCode === 404) return false
        throw err
      }
    })
  const spec = async (id: string) => {
    const s = docker.getService(id)
    const current = (await s.inspect()) as Docker.Service
    return {s, current}
  }
  return {
    host,
    info: () =>
      wrap(async () => {
        const i = (await docker.info()) as {
          Swarm?: {LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string; NodeAddr?: string}
        }
        return {
          state: i.Swarm?.LocalNodeState ?? 'inactive',
          manager: Boolean(i.Swarm?.ControlAvailable),
          nodeId: i.Swarm?.NodeID || undefined,
          nodeAddr: i.Swarm?.NodeAddr || undefined,
        }
      }),
    init: (advertiseAddr) =>
      wrap(async () => {
        await docker.swarmInit({ListenAddr: '0.0.0.0:2377', ...(advertiseAddr ? {AdvertiseAddr: advertiseAddr} : {})})
      }),
    nodes: () =>
      wrap(async () =>
        ((await docker.listNodes()) as RawNode[]).map((n) => ({
          id: n.ID,
          hostname: n.Description?.Hostname ?? n.ID,
          role: n.Spec?.Role ?? 'worker',
          state: n.Status?.State ?? 'unknown',
          addr: n.Status?.Addr ?? '',
          labels: n.Spec?.Labels ?? {},
        })),
      ),
    addNodeLabels: (id, labels) =>
      wrap(async () => {
        const node = docker.getNode(id)
        const info = (await node.inspect()) as RawNode
        const current = info.Spec ?? {}
        await node.update({_query: {version: info.Version?.Index}, _body: {...current, Labels: {...current.Labels, ...labels}}})
      }),
    services: (stack) =>
      wrap(async () => {
        const list = (await docker.listServices(stack ? {filters: namespace(stack)} : {})) as Docker.Service[]
        return list.map(service).sort((a, b) => a.name.localeCompare(b.name))
      }),
    tasks: (name) =>
      wrap(async () => {
        const list = (await docker.listTasks({filters: {service: [name]}})) as unknown as RawTask[]
        return list.map((t) => {
          const status = t.Status
          return {
            id: t.ID,
            ...(t.Slot !== undefined ? {slot: t.Slot} : {}),
            nodeId: t.NodeID ?? '',
            state: status?.State ?? 'unknown',
            desiredState: t.DesiredState ?? 'unknown',
            ...(status?.Err ? {error: status.Err} : {}),
            ...(status?.ContainerStatus?.ContainerID ? {containerId: status.ContainerStatus.ContainerID} : {}),
            image: t.Spec?.ContainerSpec?.Image ?? '',
            at: status?.Timestamp ?? t.UpdatedAt ?? '',
          }
        })
      }),
    setImage: (id, image) =>
      wrap(async () => {
        const {s, current} = await spec(id)
        const body = structuredClone(current.Spec!) as Docker.ServiceSpec & {
          TaskTemplate: {ContainerSpec: {Image: string}; ForceUpdate?: number}
        }
        body.TaskTemplate.ContainerSpec.Image = image
        await s.update({_query: {version: current.Version?.Index}, _body: body})
      }),
    rollback: (id) =>
      wrap(async () => {
        const {s, current} = await spec(id)
        await s.update({_query: {version: current.Version?.Index, rollback: 'previous'}, _body: current.Spec})
      }),
    logs: (id, opts) =>
      wrap(async () => {
        const buf = (await docker.getService(id).logs({
          stdout: true,
          stderr: true,
          details: true,
          follow: false,
          since: opts.since ?? 0,
          ...(opts.tail ? {tail: opts.tail} : {}),
        })) as unknown as Buffer
        return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)))
          .split('\n')
          .filter(Boolean)
          .map(taskOfLine)
      }),
    // Created with nothing overridden, so a commit keeps the image's command, environment and healthcheck.
    createIdle: (image) => wrap(async () => (await docker.createContainer({Image: image})).id),
    commit: (id, ref, labels) =>
      wrap(async () => {
        const at = ref.lastIndexOf(':')
        const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`)
        const r = (await docker.getContainer(id).commit({repo: ref.slice(0, at), tag: ref.slice(at + 1), changes})) as {Id: string}
        return r.Id
      }),
    push: (image, ref) =>
      wrap(async () => {
        const at = ref.lastIndexOf(':')
        await docker.getImage(image).tag({repo: ref.slice(0, at), tag: ref.slice(at + 1)})
        const stream = await docker.getImage(ref).push({authconfig: {}})
        // A failed push is an error inside the stream, not an HTTP status.
        return new Promise<string | undefined>((resolve, reject) =>
          docker.modem.followProgress(stream, (err: Error | null, events: Array<{error?: string; aux?: {Digest?: string}}>) => {
            const failed = err?.message ?? events.find((e) => e.error)?.error
            if (failed) reject(new PlatformError('CHECK_FAILED', `pushing ${ref} failed: ${failed}`))
            else resolve(events.find((e) => e.aux?.Digest)?.aux?.Digest)
          }),
        )
      }),
    leftovers: (stack) =>
      wrap(async () => {
        const filters = {filters: namespace(stack)}
        const [networks, secrets, configs] = await Promise.all([
          docker.listNetworks(filters),
          docker.listSecrets(filters),
          docker.listConfigs(filters),
        ])
        return [
          ...networks.map((n) => `network ${n.Name}`),
          ...(secrets as Array<{Spec?: {Name?: string}}>).map((s) => `secret ${s.Spec?.Name}`),
          ...(configs as Array<{Spec?: {Name?: string}}>).map((c) => `config ${c.Spec?.Name}`),
        ]
      }),
    createService: (spec) => wrap(async () => ((await docker.createService(spec)) as {id?: string; ID?: string}).id ?? ''),
    removeService: (name) => gone(() => docker.getService(name).remove()),
    createSecret: (name, data, labels) =>
      wrap(async () => {
        const r = (await docker.createSecret({Name: name, Labels: labels, Data: Buffer.from(data).toString('base64')})) as {id?: string}
        return r.id ?? ''
      }),
    removeSecret: (name) => gone(() => docker.getSecret(name).remove()),
  }
}
