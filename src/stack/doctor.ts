import {portFree, portHolder} from '../core/index.js'
import {PROJECT, readServices, type ServiceSpec} from './composefile.js'
import type {ContainerSummary} from './engine.js'
import type {StackDeps} from './stack.js'

export type FindingKind = 'wrong-project' | 'port-conflict' | 'orphan' | 'stale-image' | 'drift'

export interface Finding {
  kind: FindingKind
  service?: string
  container?: string
  message: string
  /** the command that fixes it */
  fix: string
}

/** Whether a container is an instance of service: by its compose label, else by its name (project_service_1, project-service-1, service). */
export function isInstanceOf(c: ContainerSummary, service: string): boolean {
  if (c.service) return c.service === service
  return new RegExp(`(^|[_-])${service.replace(/[-]/g, '[-_]')}([_-]\\d+)?$`).test(c.name)
}

const recreate = (compose: string, service: string) => `${compose} -p ${PROJECT} -f platform/docker-compose.app.yml up -d --force-recreate --no-deps ${service}`

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
export async function doctor(deps: StackDeps, extra: (specs: ServiceSpec[], containers: ContainerSummary[]) => Promise<Finding[]> = async () => []): Promise<{findings: Finding[]; containers: number}> {
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
        message: `${spec.name} runs in ${c.project ? `compose project ${c.project}` : 'no compose project'} (container ${c.name}, ${c.state}), not in ${PROJECT}`,
        fix: `platform stack relocate ${spec.name} --from ${c.project ?? c.name}`,
      })
    }
    for (const port of spec.ports) {
      const holder = containers.find((c) => c.state === 'running' && c.ports.some((p) => p.host === port.host))
      if (holder && holder.id === own(spec.name)?.id) continue
      if (holder && wrong.includes(holder)) continue // already reported as that service in the wrong project
      if (holder) {
        findings.push({
          kind: 'port-conflict',
          service: spec.name,
          container: holder.name,
          message: `port ${port.host} of ${spec.name} is held by container ${holder.name}${holder.project ? ` (project ${holder.project})` : ''}`,
          fix: `docker stop ${holder.name}   # or publish ${spec.name} on another host port`,
        })
      } else if (own(spec.name)?.state !== 'running' && !(await portFree(port.host, '127.0.0.1'))) {
        const proc = portHolder(port.host) ?? 'another process'
        findings.push({kind: 'port-conflict', service: spec.name, message: `port ${port.host} of ${spec.name} is held by ${proc}`, fix: `stop ${proc}, or publish ${spec.name} on another host port`})
      }
    }
  }
  const names = new Set(specs.map((s) => s.name))
  for (const c of containers.filter((c) => c.project === PROJECT && c.service && !names.has(c.service))) {
    findings.push({kind: 'orphan', container: c.name, service: c.service, message: `container ${c.name} belongs to project ${PROJECT} but its service ${c.service} is not in the compose file`, fix: `docker rm -f ${c.name}`})
  }
  const imageIds = new Map<string, string | undefined>()
  for (const c of containers.filter((c) => c.project === PROJECT && c.service && names.has(c.service))) {
    if (!imageIds.has(c.image)) imageIds.set(c.image, await deps.engine.imageId(c.image))
    const current = imageIds.get(c.image)
    if (current && current !== c.imageId) {
      findings.push({kind: 'stale-image', service: c.service, container: c.name, message: `${c.name} runs an older image than ${c.image} is now`, fix: recreate(deps.compose.flavour, c.service!)})
    }
  }
  findings.push(...(await extra(specs, containers)))
  return {findings, containers: containers.length}
}
