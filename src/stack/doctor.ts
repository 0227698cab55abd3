import {PROJECT, readServices, type ServiceSpec} from './composefile.js'
import {isInstanceOf, portOwner} from './container.js'
import type {ContainerSummary} from './engine.js'
import type {StackDeps} from './stack.js'

export type FindingKind = 'wrong-project' | 'wrong-stack' | 'two-modes' | 'port-conflict' | 'orphan' | 'stale-image' | 'drift'

export interface Finding {
  kind: FindingKind
  service?: string
  container?: string
  message: string
  /** the command that fixes it */
  fix: string
}

const where = (c: ContainerSummary) => (c.project ? `compose project ${c.project}` : 'no compose project')

const recreate = (compose: string, service: string) =>
  `${compose} -p ${PROJECT} -f platform/docker-compose.app.yml up -d --force-recreate --no-deps ${service}`

/** Containers of other projects that run a service of the platform's compose file. */
export function misplaced(containers: ContainerSummary[], service: string): ContainerSummary[] {
  return containers.filter((c) => isInstanceOf(c, service) && c.project !== PROJECT)
}

/**
 * Looks at every container the engine has, once, and reports what is out of place:
 * services running under another compose project, platform ports held by something
 * else, orphans of the project, containers older than their image's tag, and drift
 * (extra findings passed in, such as hot patches).
 */
export async function doctor(
  deps: StackDeps,
  extra: (specs: ServiceSpec[], containers: ContainerSummary[]) => Promise<Finding[]> = async () => [],
  /** host ports the platform's own swarm stack publishes for the same service: held, but not in the way */
  ownPorts: ReadonlyMap<number, string> = new Map(),
): Promise<{findings: Finding[]; containers: number}> {
  await deps.engine.ping()
  const specs = readServices(deps.env)
  const containers = await deps.engine.containers({all: true})
  const findings: Finding[] = []
  const own = (service: string) => containers.find((c) => c.project === PROJECT && c.service === service)

  for (const spec of specs) {
    const wrong = misplaced(containers, spec.name)
    for (const c of wrong) {
      findings.push({
        kind: 'wrong-project',
        service: spec.name,
        container: c.name,
        message: `${spec.name} runs in ${where(c)} (container ${c.name}, ${c.state}), not in ${PROJECT}`,
        fix: `platform stack relocate ${spec.name} --from ${c.project ?? c.name}`,
      })
    }
    for (const port of spec.ports) {
      if (ownPorts.get(port.host) === spec.name) continue
      const owner = await portOwner(deps.engine, port.host, containers)
      const holder = owner?.container
      // Its own container, or the service in the wrong project (already reported as such).
      if (!owner || (holder && (holder.id === own(spec.name)?.id || wrong.includes(holder)))) continue
      const who = holder ? `container ${holder.name}${holder.project ? ` (project ${holder.project})` : ''}` : owner.process
      const elsewhere = `publish ${spec.name} on another host port`
      findings.push({
        kind: 'port-conflict',
        service: spec.name,
        ...(holder ? {container: holder.name} : {}),
        message: `port ${port.host} of ${spec.name} is held by ${who}`,
        fix: holder ? `docker stop ${holder.name}   # or ${elsewhere}` : `stop ${owner.process}, or ${elsewhere}`,
      })
    }
  }
  const names = new Set(specs.map((s) => s.name))
  for (const c of containers.filter((c) => c.project === PROJECT && c.service && !names.has(c.service))) {
    findings.push({
      kind: 'orphan',
      container: c.name,
      service: c.service,
      message: `container ${c.name} belongs to project ${PROJECT} but its service ${c.service} is not in the compose file`,
      fix: `docker rm -f ${c.name}`,
    })
  }
  const imageIds = new Map<string, string | undefined>()
  for (const c of containers.filter((c) => c.project === PROJECT && c.service && names.has(c.service))) {
    if (!imageIds.has(c.image)) imageIds.set(c.image, await deps.engine.imageId(c.image))
    const current = imageIds.get(c.image)
    if (current && current !== c.imageId) {
      findings.push({
        kind: 'stale-image',
        service: c.service,
        container: c.name,
        message: `${c.name} runs an older image than ${c.image} is now`,
        fix: recreate(deps.compose.flavour, c.service!),
      })
    }
  }
  findings.push(...(await extra(specs, containers)))
  return {findings, containers: containers.length}
}
