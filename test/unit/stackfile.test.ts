/**
 * The Swarm stack file rendered from the platform's own compose file: deploy keys, secrets
 * instead of key variables, placement, ports. That Swarm accepts it and runs it is the docker
 * tier's (test/docker/swarm.test.ts).
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {describe, expect, it} from 'vitest'
import {isPlatformError, packageRoot, secretsFromFiles} from '../../src/core/index.js'
import {parseReplicas, renderStackFile, swarmPrometheusConfig, type SecretName} from '../../src/stack/index.js'

const compose = parse(readFileSync(join(packageRoot(), 'platform', 'docker-compose.app.yml'), 'utf8')) as Record<string, unknown>
const env = {PLATFORM_APP_IMAGE: 'platform-app:test', L09_HOST_PORT: '18009', PROMETHEUS_HOST_PORT: '19090'}
const secrets = (value = 'v') =>
  Object.fromEntries(
    (['l01_api_key', 'gateway_api_keys', 'database_url', 'postgres_password'] as SecretName[]).map((n) => [
      n,
      {file: `/s/${n}`, value: `${n}-${value}`},
    ]),
  ) as Record<SecretName, {file: string; value: string}>
interface Deploy {
  replicas: number
  endpoint_mode: string
  update_config: {order: string}
  rollback_config: object
  placement?: {constraints: string[]}
}
interface Service {
  image: string
  command?: string[]
  healthcheck?: {test: unknown}
  environment?: Record<string, string>
  secrets?: Array<{source: string}>
  ports?: unknown[]
  volumes?: string[]
  configs?: unknown[]
  deploy: Deploy
}
const render = (opts: {replicas?: Record<string, number>; value?: string} = {}) =>
  renderStackFile(compose, {
    env,
    replicas: opts.replicas,
    secrets: secrets(opts.value),
    prometheusConfig: {file: '/s/prometheus.yml', value: swarmPrometheusConfig()},
  }) as {
    services: Record<string, Service>
    secrets: Record<string, {name: string; file: string}>
    configs: Record<string, {name: string; file: string}>
    networks: Record<string, unknown>
  }

describe('the Swarm stack file', () => {
  it('has the same four services, without compose-only keys', () => {
    const doc = render()
    expect(Object.keys(doc.services).sort()).toEqual(['l01-data-layer', 'l09-api-gateway', 'postgres', 'prometheus'])
    for (const s of Object.values(doc.services)) {
      expect(s).not.toHaveProperty('build')
      expect(s).not.toHaveProperty('depends_on')
      expect(s.healthcheck?.test).toBeDefined()
    }
    expect(doc.services['l01-data-layer']!.image).toBe('platform-app:test')
    expect(doc.services['l09-api-gateway']!.command).toContain('gateway')
    expect(doc.networks).toEqual({default: {driver: 'overlay', attachable: true}})
  })

  it('runs 2 replicas of L01 and L09 and 1 of the others by default; --replicas overrides', () => {
    const replicas = (d: ReturnType<typeof render>) =>
      Object.fromEntries(Object.entries(d.services).map(([n, s]) => [n, s.deploy.replicas]))
    expect(replicas(render())).toEqual({'l01-data-layer': 2, 'l09-api-gateway': 2, postgres: 1, prometheus: 1})
    expect(replicas(render({replicas: {'l09-api-gateway': 3}}))['l09-api-gateway']).toBe(3)
    const err = (() => {
      try {
        render({replicas: {'l09-gateway': 3}})
      } catch (e) {
        return e
      }
    })()
    expect(isPlatformError(err, 'USAGE')).toBe(true)
    expect((err as Error).message).toContain('l09-gateway')
  })

  it('updates start-first and rolls back on failure; stateful services stop first', () => {
    const doc = render()
    for (const name of ['l01-data-layer', 'l09-api-gateway']) {
      const d = doc.services[name]!.deploy
      expect(d.update_config).toMatchObject({order: 'start-first', failure_action: 'rollback', parallelism: 1, monitor: '10s'})
      expect(d.rollback_config).toMatchObject({order: 'start-first', parallelism: 1, monitor: '10s'})
    }
    for (const name of ['postgres', 'prometheus']) expect(doc.services[name]!.deploy.update_config.order).toBe('stop-first')
  })

  it('pins PostgreSQL by node label', () => {
    const doc = render()
    expect(doc.services.postgres!.deploy.placement?.constraints).toEqual(['node.labels.platform.postgres == true'])
    expect(doc.services['l01-data-layer']!.deploy.placement).toBeUndefined()
  })

  it('passes keys and passwords as Docker secrets, never in the environment', () => {
    const doc = render()
    const text = JSON.stringify(doc.services)
    for (const v of ['l01_api_key-v', 'gateway_api_keys-v', 'database_url-v', 'postgres_password-v']) expect(text).not.toContain(v)
    const envOf = (n: string) => doc.services[n]!.environment as Record<string, string>
    expect(envOf('l01-data-layer')).toMatchObject({
      L01_API_KEY_FILE: '/run/secrets/l01_api_key',
      DATABASE_URL_FILE: '/run/secrets/database_url',
    })
    expect(envOf('l09-api-gateway')).toMatchObject({PLATFORM_API_KEYS_FILE: '/run/secrets/gateway_api_keys'})
    expect(envOf('postgres')).toMatchObject({POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password', POSTGRES_USER: 'platform'})
    for (const n of Object.keys(doc.services)) {
      for (const k of ['L01_API_KEY', 'PLATFORM_API_KEYS', 'DATABASE_URL', 'POSTGRES_PASSWORD'])
        expect(envOf(n) ?? {}).not.toHaveProperty(k)
      for (const s of doc.services[n]!.secrets ?? []) expect(doc.secrets[s.source]).toBeDefined()
    }
    expect(doc.secrets.l01_api_key!.file).toBe('/s/l01_api_key')
  })

  it('names each secret by its content, so a new key is a new secret (Swarm secrets cannot change)', () => {
    const a = render({value: 'one'}).secrets
    const b = render({value: 'one'}).secrets
    const c = render({value: 'two'}).secrets
    expect(a.l01_api_key!.name).toBe(b.l01_api_key!.name)
    expect(a.l01_api_key!.name).not.toBe(c.l01_api_key!.name)
    expect(a.l01_api_key!.name).toMatch(/^platform_l01_api_key_[0-9a-f]{12}$/)
  })

  it('publishes only the gateway and Prometheus through the routing mesh; the rest are found by DNS', () => {
    const doc = render()
    expect(doc.services['l09-api-gateway']!.ports).toEqual([{target: 8009, published: 18009, protocol: 'tcp', mode: 'ingress'}])
    expect(doc.services.prometheus!.ports).toEqual([{target: 9090, published: 19090, protocol: 'tcp', mode: 'ingress'}])
    for (const n of ['l01-data-layer', 'postgres']) {
      expect(doc.services[n]!.ports).toBeUndefined()
      expect(doc.services[n]!.deploy.endpoint_mode).toBe('dnsrr')
    }
  })

  it('gives Prometheus its configuration as a Docker config that scrapes every replica, not a bind mount', () => {
    const doc = render()
    const prom = doc.services.prometheus!
    expect(prom.volumes).toEqual(['prometheus-data:/prometheus'])
    expect(prom.configs).toEqual([{source: 'prometheus_yml', target: '/etc/prometheus/prometheus.yml'}])
    expect(doc.configs.prometheus_yml!.file).toBe('/s/prometheus.yml')
    const scrape = parse(swarmPrometheusConfig()) as {scrape_configs: Array<{job_name: string; dns_sd_configs?: Array<{names: string[]}>}>}
    const jobs = Object.fromEntries(scrape.scrape_configs.map((j) => [j.job_name, j.dns_sd_configs?.[0]?.names]))
    expect(jobs).toMatchObject({'l01-data-layer': ['tasks.l01-data-layer'], 'l09-api-gateway': ['tasks.l09-api-gateway']})
  })
})

describe('--replicas', () => {
  it('reads SERVICE=N pairs', () => {
    expect(parseReplicas('l01-data-layer=2, l09-api-gateway=3')).toEqual({'l01-data-layer': 2, 'l09-api-gateway': 3})
    expect(parseReplicas(undefined)).toEqual({})
  })
  it('refuses anything else, naming it', () => {
    for (const bad of ['l01', 'l01=x', 'l01=-1', '=2']) {
      let err: unknown
      try {
        parseReplicas(bad)
      } catch (e) {
        err = e
      }
      expect(isPlatformError(err, 'USAGE')).toBe(true)
      expect((err as Error).message).toContain(bad)
    }
  })
})

describe('secrets from files (NAME_FILE)', () => {
  it('reads NAME from the file NAME_FILE names, unless NAME is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secret-'))
    writeFileSync(join(dir, 'key'), 'from-file\n')
    const env: NodeJS.ProcessEnv = {L01_API_KEY_FILE: join(dir, 'key'), DATABASE_URL: 'kept', DATABASE_URL_FILE: join(dir, 'key')}
    secretsFromFiles(env)
    expect(env.L01_API_KEY).toBe('from-file')
    expect(env.DATABASE_URL).toBe('kept')
  })
  it('a file that cannot be read is a configuration error naming the variable', () => {
    let err: unknown
    try {
      secretsFromFiles({PLATFORM_API_KEYS_FILE: '/nonexistent/keys'})
    } catch (e) {
      err = e
    }
    expect(isPlatformError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).toContain('PLATFORM_API_KEYS_FILE=/nonexistent/keys')
  })
})
