import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {migrationsDir} from '../../src/core/index.js'
import {inTerminal, runCli} from '../support/cli.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'platform-init-'))
const PACKAGE_PLATFORM = new URL('../../platform/', import.meta.url).pathname

describe('platform init, config and key (built bin/run.js)', () => {
  it('init --stack sets up an empty git repository, keeps what exists, and db new works there', async () => {
    const cwd = tmp()
    execFileSync('git', ['init', '-q'], {cwd})
    const cli = (...args: string[]) => runCli(args, {cwd})

    const first = await cli('init', '--stack')
    expect(first.code, first.stderr).toBe(0)
    for (const path of [
      'platform.yaml',
      '.gitignore',
      'platform/docker-compose.app.yml',
      'platform/Dockerfile',
      'platform/prometheus/prometheus.yml',
    ]) {
      expect(first.stdout, path).toContain(`wrote ${path}`)
      expect(existsSync(join(cwd, path)), path).toBe(true)
    }
    for (const file of ['docker-compose.app.yml', 'Dockerfile', 'prometheus/prometheus.yml']) {
      expect(readFileSync(join(cwd, 'platform', file), 'utf8'), file).toBe(readFileSync(join(PACKAGE_PLATFORM, file), 'utf8'))
    }
    expect(readdirSync(join(cwd, 'platform', 'migrations'))).toEqual([])
    const ignored = execFileSync('git', ['check-ignore', '.platform/api.key', 'reports/smoke/report.html'], {cwd, encoding: 'utf8'})
    expect(ignored.trim().split('\n')).toEqual(['.platform/api.key', 'reports/smoke/report.html'])
    // The starter is valid as written: the commands read it.
    expect(JSON.parse((await cli('config', '--json')).stdout).file).toBe(join(cwd, 'platform.yaml'))

    // Nothing is overwritten without --force, and .gitignore is not appended to twice.
    writeFileSync(join(cwd, 'platform.yaml'), 'gateway:\n  port: 9009\n')
    const again = await cli('init', '--stack', '--json')
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toEqual({
      written: [],
      kept: ['platform.yaml', 'platform/docker-compose.app.yml', 'platform/Dockerfile', 'platform/prometheus/prometheus.yml'],
    })
    expect(readFileSync(join(cwd, 'platform.yaml'), 'utf8')).toBe('gateway:\n  port: 9009\n')
    expect(readFileSync(join(cwd, '.gitignore'), 'utf8')).toBe('.platform/\nreports/\n')
    const forced = await cli('init', '--force', '--json')
    expect(JSON.parse(forced.stdout).written).toEqual(['platform.yaml'])
    expect(readFileSync(join(cwd, 'platform.yaml'), 'utf8')).toContain('#   port: 8009')

    const created = await cli('db', 'new', 'add goal index', '--dir', 'platform/migrations', '--json')
    expect(created.code, created.stderr).toBe(0)
    const next = String(Math.max(...readdirSync(migrationsDir()).map((f) => Number(f.slice(0, 4)))) + 1).padStart(4, '0')
    expect(readdirSync(join(cwd, 'platform', 'migrations'))).toEqual([`${next}_add_goal_index.sql`]) // numbered after the platform's own
  }, 60_000)

  it('config shows each value with its source: default, file, environment or flag, and masks passwords', async () => {
    const cwd = tmp()
    writeFileSync(join(cwd, 'platform.yaml'), 'gateway:\n  port: 9009\n')
    const env = {L01_PORT: '18001', DATABASE_URL: 'postgresql://app:s3cret@db.example:5432/platform'}
    const r = await runCli(['config', '--data-dir', 'elsewhere', '--json'], {cwd, env})
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as {file: string; settings: Record<string, {value: unknown; source: string; from?: string}>}
    expect(doc.settings['gateway.port']).toEqual({value: 9009, source: 'file', from: join(cwd, 'platform.yaml')})
    expect(doc.settings['data_layer.port']).toEqual({value: 18001, source: 'environment', from: 'L01_PORT'})
    expect(doc.settings.data_dir).toEqual({value: 'elsewhere', source: 'flag', from: '--data-dir'})
    expect(doc.settings['gateway.host']).toEqual({value: '127.0.0.1', source: 'default'})
    expect(doc.settings.database_url).toEqual({
      value: 'postgresql://app:****@db.example:5432/platform',
      source: 'environment',
      from: 'DATABASE_URL',
    })
    const human = await runCli(['config'], {cwd, env})
    expect(human.stdout).toMatch(/^gateway\.port\s+9009\s+file$/m)
    expect(human.stdout).toMatch(/^data_layer\.port\s+18001\s+environment \(L01_PORT\)$/m)
    expect(human.stdout + human.stderr).not.toContain('s3cret')
  })

  it('a mistyped key in platform.yaml suggests the nearest one', async () => {
    const cwd = tmp()
    writeFileSync(join(cwd, 'platform.yaml'), 'gatway:\n  port: 9009\n')
    const r = await runCli(['config'], {cwd})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('platform.yaml:1: gatway is not a known key; did you mean gateway?')
  })

  it('key prints the API key L09 accepts, and nothing else', async () => {
    const cwd = tmp()
    const r = await runCli(['key'], {cwd})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${readFileSync(join(cwd, '.platform', 'api.key'), 'utf8').trim()}\n`)
    const fromEnv = await runCli(['key', '--json'], {cwd, env: {PLATFORM_API_KEYS: 'first-key, second-key'}})
    expect(JSON.parse(fromEnv.stdout)).toEqual({key: 'first-key', source: 'PLATFORM_API_KEYS'})
  })

  it('DOCKER_HOST that is not an address is a usage error naming the value', async () => {
    const r = await runCli(['status', '--docker'], {cwd: tmp(), env: {DOCKER_HOST: 'garbage'}})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('DOCKER_HOST=garbage is not a Docker engine address')
    expect(r.stderr).not.toContain('this is a bug')
  })

  it('db reset asks on a terminal: no keeps the data (exit 2), yes resets', async () => {
    const cwd = tmp()
    const args = ['db', 'reset', '--db', 'pglite']
    const no = await inTerminal(args, {cwd, env: {NO_COLOR: '1'}, input: 'n\r'})
    expect(no.output).toContain('db reset deletes every agent, goal, plan and task. Go ahead? [y/N]')
    expect(no.output).toContain('db reset cancelled')
    expect(no.code).toBe(2)
    const yes = await inTerminal(args, {cwd, env: {NO_COLOR: '1'}, input: 'y\r'})
    expect(yes.output).toMatch(/reset .*: applied 0001_/)
    expect(yes.code).toBe(0)
  }, 120_000)
})
