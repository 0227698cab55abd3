import type {PlatformStatus, ServiceStatus} from '../core/index.js'
import {style, table} from './output.js'

const TITLES: Record<string, string> = {'l01-data-layer': 'L01 data layer', 'l09-api-gateway': 'L09 API gateway'}

function duration(seconds?: number): string {
  if (seconds === undefined) return ''
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`
}

function health(svc: ServiceStatus): string {
  if (svc.health === 'healthy') return style.ok('healthy')
  if (svc.health === 'starting' || svc.health === 'unknown') return style.warn(svc.health)
  return style.bad(`${svc.health}${svc.detail ? ` (${svc.detail.slice(0, 60)})` : ''}`)
}

/** The status table people read (status, and the end of up). */
export function renderStatus(s: PlatformStatus): string {
  if (!s.running)
    return (
      `${style.dim('The platform is not running')} (mode ${s.mode}). ` +
      `Start it with \`platform up${s.mode === 'embedded' ? '' : ` --${s.mode}`}\`.`
    )
  const patched = (svc: ServiceStatus) => (svc.patches ? style.warn(` +${svc.patches} patch${svc.patches > 1 ? 'es' : ''}`) : '')
  if (s.mode === 'swarm') {
    const rows = s.services.map((svc) => [
      svc.name + patched(svc),
      svc.replicas ? `${svc.replicas.running}/${svc.replicas.desired}` : '-',
      health(svc),
      svc.update ?? '',
      (svc.ports ?? []).join(', '),
      svc.image ?? '',
    ])
    const failed = s.services.flatMap((svc) => (svc.failedTasks ?? []).map((t) => `  ${t.task} at ${t.at}: ${t.error}`))
    return [
      table(['service', 'replicas', 'health', 'update', 'ports', 'image'], rows),
      ...(failed.length ? ['', style.warn('tasks that failed lately:'), ...failed] : []),
      '',
      `API key   ${s.apiKeyFile} (PLATFORM_API_KEYS overrides)`,
    ].join('\n')
  }
  if (s.mode === 'docker') {
    const rows = s.services.map((svc) => [
      svc.name + patched(svc),
      svc.container ?? '-',
      svc.project ?? '-',
      svc.state,
      health(svc),
      (svc.ports ?? []).join(', '),
      svc.image ?? '',
      duration(svc.uptimeSeconds),
    ])
    return [
      table(['service', 'container', 'project', 'state', 'health', 'ports', 'image', 'uptime'], rows),
      '',
      `API key   ${s.apiKeyFile} (PLATFORM_API_KEYS overrides)`,
    ].join('\n')
  }
  const rows = s.services.map((svc) => [
    (TITLES[svc.name] ?? svc.name) + patched(svc),
    svc.url ?? '',
    health(svc),
    duration(svc.uptimeSeconds),
  ])
  return [
    table(['service', 'url', 'health', 'uptime'], rows),
    '',
    `mode      ${s.mode} (${s.topology}), pid ${s.pid}`,
    `database  ${s.engine?.description ?? s.database}`,
    `API key   ${s.apiKeyFile} (send it as X-API-Key; PLATFORM_API_KEYS overrides)`,
    ...(s.logFile ? [`log       ${s.logFile}`] : []),
  ].join('\n')
}
