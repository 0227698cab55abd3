import type {PlatformConfig, PlatformStatus} from '../core/index.js'
import {PROJECT, type ContainerSummary, type Finding} from '../stack/index.js'
import {isActive, listRecords, type PatchRecord} from './ledger.js'

/** Active patches by the container that carries them. */
export function activePatches(config: PlatformConfig): Map<string, PatchRecord[]> {
  const out = new Map<string, PatchRecord[]>()
  for (const r of listRecords(config).filter(isActive)) out.set(r.container.id, [...(out.get(r.container.id) ?? []), r])
  return out
}

/**
 * Drift for `stack doctor`: running containers that carry hot patches their image lacks,
 * and patches lost because their service's container was recreated.
 */
export function findDrift(config: PlatformConfig, containers: ContainerSummary[]): Finding[] {
  const findings: Finding[] = []
  for (const [id, patches] of activePatches(config)) {
    const c = containers.find((x) => x.id === id)
    const service = patches[0]!.service
    const ids = patches.map((p) => p.id).join(', ')
    const n = `${patches.length} patch${patches.length > 1 ? 'es' : ''}`
    if (c && c.state === 'running') {
      findings.push({
        kind: 'drift',
        service,
        container: c.name,
        message: `${c.name} carries ${patches.length} hot patch${patches.length > 1 ? 'es' : ''} not in its image (${ids})`,
        fix: 'commit the changes and rebuild: platform up --docker --build (then the patches can be rolled back or left)',
      })
    } else if (containers.some((x) => x.project === PROJECT && x.service === service && x.state === 'running')) {
      findings.push({
        kind: 'drift',
        service,
        message: `${service}'s container was recreated: ${n} (${ids}) no longer applied`,
        fix: `platform patch reapply ${service}`,
      })
    }
  }
  return findings
}

/** The status with each service's count of patches its container carries (drift). */
export function countPatches(config: PlatformConfig, status: PlatformStatus, containers: ContainerSummary[]): PlatformStatus {
  const patched = activePatches(config)
  for (const svc of status.services) {
    const id = containers.find((c) => c.name === svc.container)?.id
    const n = id ? (patched.get(id)?.length ?? 0) : 0
    if (n) svc.patches = n
  }
  return status
}
