import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {PlatformError, packageRoot} from '../core/index.js'

export const PROJECT = 'platform'
/** The compose file: the one composeEnv chose (the project's own, or the package's), else the package's. */
export const composeFile = (env: NodeJS.ProcessEnv = process.env): string =>
  env.PLATFORM_COMPOSE_FILE || join(packageRoot(), 'platform', 'docker-compose.app.yml')

export interface ServiceSpec {
  name: string
  image: string
  build: boolean
  /** published ports, after interpolation */
  ports: Array<{host: number; container: number}>
  /** named volumes and where they are mounted */
  volumes: Array<{name: string; target: string}>
  healthcheck: boolean
  /** the command the compose file gives, when it gives one as a list */
  command: string[]
}

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against env. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/gi, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const v = env[name]
    const empty = v === undefined || (op?.startsWith(':') && v === '')
    if (!empty) return v!
    if (op?.endsWith('-')) return arg ?? ''
    if (op?.endsWith('?')) throw new PlatformError('CONFIG_INVALID', `${name}: ${arg || 'must be set'}`)
    return ''
  })
}

/** The services of the compose file, with the env's images and ports. */
export function readServices(env: NodeJS.ProcessEnv, file = composeFile(env)): ServiceSpec[] {
  const doc = parse(readFileSync(file, 'utf8')) as {services: Record<string, Record<string, unknown>>; volumes?: Record<string, unknown>}
  const named = new Set(Object.keys(doc.volumes ?? {}))
  return Object.entries(doc.services).map(([name, s]) => {
    const ports = ((s.ports as string[] | undefined) ?? []).map((p) => {
      const parts = interpolate(p, env).split(':')
      return {host: Number(parts.at(-2)), container: Number(parts.at(-1))}
    })
    const volumes = ((s.volumes as string[] | undefined) ?? [])
      .map((v) => interpolate(v, env).split(':'))
      .filter(([src]) => named.has(src!))
      .map(([src, target]) => ({name: src!, target: target!}))
    const command = Array.isArray(s.command) ? s.command.map(String) : []
    const image = interpolate(String(s.image), env)
    return {name, image, build: Boolean(s.build), ports, volumes, healthcheck: Boolean(s.healthcheck), command}
  })
}
