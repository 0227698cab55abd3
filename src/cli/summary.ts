import {style, table} from '../core/index.js'
import type {PlatformStatus} from '../embedded/index.js'

const TITLES: Record<string, string> = {'l01-data-layer': 'L01 data layer', 'l09-api-gateway': 'L09 API gateway'}

function duration(seconds = 0): string {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`
}

/** The status table people read (status, and the end of up). */
export function renderStatus(s: PlatformStatus): string {
  if (!s.running) return `${style.dim('The platform is not running')} (mode ${s.mode}). Start it with \`platform up\`.`
  const rows = s.services.map((svc) => [
    TITLES[svc.name] ?? svc.name,
    svc.url,
    svc.health === 'healthy' ? style.ok('healthy') : style.bad(`${svc.health}${svc.detail ? ` (${svc.detail})` : ''}`),
    duration(svc.uptimeSeconds),
  ])
  return [
    table(['service', 'url', 'health', 'uptime'], rows),
    '',
    `mode      ${s.mode} (${s.topology}), pid ${s.pid}`,
    `database  ${s.database}`,
    `API key   ${s.apiKeyFile} (send it as X-API-Key; PLATFORM_API_KEYS overrides)`,
    ...(s.logFile ? [`log       ${s.logFile}`] : []),
  ].join('\n')
}
