import {PlatformError} from '../core/index.js'
import {PROJECT, readServices, type ServiceSpec} from './composefile.js'
import type {Finding} from './doctor.js'
import type {ContainerSummary} from './engine.js'
import type {Step} from './stack.js'
import {STACK} from './stackfile.js'
import {ensureManager, waitConverged, writeStackFile, type SwarmDeps} from './swarm.js'
import type {SwarmService} from './swarm-engine.js'

/** Services of the swarm that run a service of the platform's compose file under another stack (or none). */
export function misplacedServices(services: SwarmService[], specs: ServiceSpec[]): SwarmService[] {
  const names = new Set(specs.map((s) => s.name))
  return services.filter((s) => s.stack !== STACK && names.has(s.name))
}

/**
 * What `stack doctor` adds when the engine manages a swarm: platform services deployed under
 * another stack (the Swarm form of Prometheus in the wrong compose project), the platform
 * running both as the compose project and as the swarm stack, and the stack's published ports
 * taken by another service. Nothing when the engine is in no swarm.
 */
export async function swarmFindings(deps: Pick<SwarmDeps, 'swarm' | 'env'>, containers: ContainerSummary[]): Promise<Finding[]> {
  const info = await deps.swarm.info().catch(() => undefined)
  if (!info?.manager) return []
  const specs = readServices(deps.env)
  const services = await deps.swarm.services()
  const findings: Finding[] = []
  for (const s of misplacedServices(services, specs)) {
    findings.push({
      kind: 'wrong-stack',
      service: s.name,
      message: `${s.name} runs as swarm service ${s.fullName} (${s.stack ? `stack ${s.stack}` : 'no stack'}), not in stack ${STACK}`,
      fix: `platform stack relocate ${s.name} --from-stack ${s.stack ?? s.fullName}`,
    })
  }
  const ours = services.filter((s) => s.stack === STACK)
  if (ours.length && containers.some((c) => c.project === PROJECT && c.state === 'running')) {
    findings.push({
      kind: 'two-modes',
      message: `the platform runs twice: as compose project ${PROJECT} and as swarm stack ${STACK}`,
      fix: 'keep one: platform down --docker, or platform down --swarm',
    })
  }
  for (const spec of specs) {
    for (const port of spec.ports) {
      const holder = services.find((s) => s.ports.some((p) => p.published === port.host) && !(s.stack === STACK && s.name === spec.name))
      // A service already reported in the wrong stack holds its own port: relocating it frees it.
      if (!holder || (holder.name === spec.name && holder.stack !== STACK)) continue
      findings.push({
        kind: 'port-conflict',
        service: spec.name,
        message: `port ${port.host} of ${spec.name} is published by swarm service ${holder.fullName}`,
        fix: `docker service update --publish-rm ${port.host} ${holder.fullName}   # or publish ${spec.name} on another port`,
      })
    }
  }
  return findings
}

/** Host port -> service, for the ports the swarm stack platform publishes (none when the engine is in no swarm). */
export async function stackPorts(swarm: SwarmDeps['swarm']): Promise<Map<number, string>> {
  if (!(await swarm.info().catch(() => undefined))?.manager) return new Map()
  return new Map((await swarm.services(STACK)).flatMap((s) => s.ports.map((p) => [p.published, s.name] as [number, string])))
}

/**
 * Moves a platform service from another swarm stack into the stack platform: the old service
 * goes (its volumes stay, and are copied into the stack's own on this node), then the stack is
 * deployed again, which creates the service in it, and the wait ends when it converged. Each
 * step checks the state it needs, so a relocation stopped half-way finishes when run again.
 */
export async function swarmRelocationSteps(
  deps: SwarmDeps,
  service: string,
  /** fromStack: the stack it runs in, or the service's own name when it was made outside any stack */
  opts: {fromStack?: string; carryVolumes?: boolean; timeoutMs?: number},
): Promise<Step[]> {
  await ensureManager(deps.swarm)
  const spec = readServices(deps.env).find((s) => s.name === service)
  if (!spec) throw new PlatformError('USAGE', `${service} is not a service of the platform's compose file`)
  const wrong = misplacedServices(await deps.swarm.services(), [spec]).filter(
    (s) => !opts.fromStack || (s.stack ?? s.fullName) === opts.fromStack,
  )
  if (wrong.length > 1) {
    throw new PlatformError('USAGE', `${service} runs in several stacks: ${wrong.map((s) => s.fullName).join(', ')}`, {
      suggestion: 'choose one with --from-stack STACK',
    })
  }
  const old = wrong[0]
  const steps: Step[] = []
  if (old) {
    const from = old.stack ?? old.fullName
    // Read now: once the service is gone, only its name says which volumes were its own.
    const volumes = opts.carryVolumes ? spec.volumes.map((v) => ({from: `${from}_${v.name}`, to: `${STACK}_${v.name}`})) : []
    steps.push({
      title: `Remove swarm service ${old.fullName} (its volumes are kept)`,
      run: () => deps.docker.run(['service', 'rm', old.fullName]),
    })
    for (const v of volumes) {
      steps.push({
        title: `Copy volume ${v.from} into ${v.to} on this node`,
        run: async () => {
          if (!(await deps.engine.volumeExists(v.from))) return `${v.from} is not on this node: nothing to copy`
          // The volume is only read, by a container of the image that will mount the copy.
          await deps.engine.copyVolume(v.from, v.to, spec.image, {'com.docker.stack.namespace': STACK})
        },
      })
    }
  }
  steps.push({
    title: `docker stack deploy ${STACK} (creates ${service} in it)`,
    run: async () => {
      // The replicas and the app image the stack runs now (a registry's, pinned), not the defaults: nothing else changes.
      const now = await deps.swarm.services(STACK)
      const replicas = {...deps.config.swarmReplicas, ...Object.fromEntries(now.map((s) => [s.name, s.desired]))}
      const file = writeStackFile(deps, replicas, now.find((s) => s.name === 'l01-data-layer')?.image)
      await deps.docker.run(['stack', 'deploy', '--compose-file', file, '--resolve-image', 'never', STACK], {onLine: deps.log})
    },
  })
  steps.push({title: 'Every replica running and healthy', run: async () => void (await waitConverged(deps, opts.timeoutMs ?? 180_000))})
  return steps
}
