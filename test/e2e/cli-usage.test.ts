import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {inTerminal, runCli} from '../support/cli.js'
import {createPgDatabase, pgUrl} from '../support/dbs.js'
import {freePort} from '../support/postgres.js'
import {openDb} from '../../src/db/index.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'platform-usage-'))
const ANSI = /\x1b\[[0-9;]*m/

describe('the CLI as oclif users know it (built bin/run.js)', () => {
  it('`help <command>`, -h and --help show the same help; -v is --version', async () => {
    const help = await runCli(['help', 'test', 'load'])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toContain('$ platform test load PROFILE')
    expect(help.stdout).toContain('--threshold=<value>...')
    expect(help.stdout).not.toContain('[default: ]')
    expect((await runCli(['test', 'load', '-h'])).stdout).toBe(help.stdout)
    expect((await runCli(['test', 'load', '--help'])).stdout).toBe(help.stdout)
    const [v, version] = await Promise.all([runCli(['-v']), runCli(['--version'])])
    expect(v).toEqual({code: 0, stdout: version.stdout, stderr: ''})
    expect(v.stdout).toMatch(/^platform\/\d+\.\d+\.\d+ /)
  })

  it('a description is never broken where its source line ended, only where the terminal wraps it', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')) as {
      commands: Record<string, {description?: string}>
    }
    const ids = Object.keys(manifest.commands).filter((id) => manifest.commands[id]!.description)
    expect(ids.length).toBeGreaterThan(10)
    for (const id of ids) {
      const r = await runCli(['help', ...id.split(':')], {env: {OCLIF_COLUMNS: '2000'}})
      const description = r.stdout
        .split('\nDESCRIPTION\n')[1]!
        .split('\n\n')
        .slice(1)
        .join('\n\n')
        .split(/\n[A-Z]+\n/)[0]!
      // Wide enough for any paragraph: each line of the description ends a sentence.
      for (const line of description.trim().split('\n').filter(Boolean)) expect(line, `${id}: ${line}`).toMatch(/[.:!?)`]$/)
    }
  }, 60_000)

  it('a mistyped command suggests the closest one, exit 2', async () => {
    const r = await runCli(['stauts'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('stauts is not a platform command. Did you mean status?')
    expect(r.stderr).toContain('platform help')
    const topic = await runCli(['test', 'lod', 'normal'])
    expect(topic.code).toBe(2)
    expect(topic.stderr).toContain('Did you mean test load?')
  })

  it('shell completion: bash completes commands, subcommands and flags', async () => {
    const cache = tmp()
    const env = {XDG_CACHE_HOME: cache}
    expect((await runCli(['autocomplete', '--refresh-cache'], {env})).code).toBe(0)
    const script = await runCli(['autocomplete', 'script', 'bash'], {env})
    expect(script.code, script.stderr).toBe(0)
    const complete = (line: string) => {
      const words = line.split(' ')
      const r = spawnSync(
        'bash',
        [
          '-c',
          `eval "$SETUP"; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; COMP_LINE="${line}"; COMP_POINT=\${#COMP_LINE}; ` +
            `_platform_autocomplete; echo "\${COMPREPLY[*]}"`,
        ],
        {
          env: {...process.env, ...env, SETUP: script.stdout},
          encoding: 'utf8',
        },
      )
      return r.stdout.trim().split(' ')
    }
    expect(complete('platform test lo')).toEqual(['load'])
    expect(complete('platform status --d')).toEqual(['--docker'])
  })

  it('`test load --threshold p95<300 normal` keeps normal as the profile', async () => {
    // An unreachable target: the run stops at its preflight, after the arguments were parsed.
    const r = await runCli([
      'test',
      'load',
      '--threshold',
      'p95<300',
      'normal',
      '--target',
      'http://127.0.0.1:1',
      '--api-key',
      'k',
      '--json',
    ])
    expect(JSON.parse(r.stdout)).toMatchObject({error: 'ENVIRONMENT_UNAVAILABLE'})
    expect(r.code).toBe(3)
  })

  it('a duration flag that is not a duration is a usage error naming the flag', async () => {
    const r = await runCli(['test', 'smoke', '--duration', '5x', '--json'])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout)).toEqual({
      error: 'USAGE',
      message: '--duration: "5x" is not a duration: write it as 10s, 5m, 1h or 1m30s',
      suggestion: 'see `platform test smoke --help`',
    })
  })
})

describe('colour', () => {
  it('is on in a terminal, and NO_COLOR (any non-empty value) turns it off there', async () => {
    const coloured = await inTerminal(['status'], {cwd: tmp()})
    expect(coloured.output).toContain('The platform is not running')
    expect(coloured.output).toMatch(ANSI)
    const plain = await inTerminal(['status'], {cwd: tmp(), env: {NO_COLOR: 'yes'}})
    expect(plain.output).toContain('The platform is not running')
    expect(plain.output).not.toMatch(ANSI)
  })

  it('in a terminal a mistyped command asks "Did you mean status?" and runs it on yes, without colour under NO_COLOR', async () => {
    const r = await inTerminal(['stauts'], {cwd: tmp(), env: {NO_COLOR: '1'}, input: 'y\r'})
    expect(r.output).toContain('Did you mean status?')
    expect(r.output).toContain('The platform is not running')
    expect(r.code).toBe(3)
    expect(r.output).not.toMatch(ANSI)
    const declined = await inTerminal(['stauts'], {cwd: tmp(), env: {NO_COLOR: '1'}, input: 'n\r'})
    expect(declined.output).not.toContain('The platform is not running')
    expect(declined.code).toBe(2)
  })

  it('FORCE_COLOR still colours output that is not a terminal', async () => {
    const r = await runCli(['status'], {cwd: tmp(), env: {NO_COLOR: '', FORCE_COLOR: '1'}})
    expect(r.stdout).toMatch(ANSI)
  })
})

describe.skipIf(!pgUrl())('status as a check: exit 0 healthy, 1 unhealthy, 3 not running; --json prints the document each time', () => {
  it('follows the platform through its database going away', async () => {
    const url = await createPgDatabase()
    const env = {DATABASE_URL: url, L01_PORT: String(await freePort()), L09_PORT: String(await freePort())}
    const cwd = tmp()
    const cli = (...args: string[]) => runCli(args, {cwd, env, timeoutMs: 120_000})
    const idle = await cli('status', '--json')
    expect([idle.code, JSON.parse(idle.stdout).running]).toEqual([3, false])
    expect((await cli('status')).code).toBe(3)
    const up = await cli('up', '--detach')
    expect(up.code, up.stderr).toBe(0)
    try {
      const healthy = await cli('status', '--json')
      expect([healthy.code, JSON.parse(healthy.stdout).running]).toEqual([0, true])

      // The database is dropped under the running platform: L01 is not ready, so neither is L09.
      const name = new URL(url).pathname.slice(1)
      const admin = await openDb({databaseUrl: pgUrl()!, poolSize: 1})
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`).finally(() => admin.close())
      const sick = await cli('status', '--json')
      expect(sick.code).toBe(1)
      const doc = JSON.parse(sick.stdout) as {running: boolean; services: Array<{name: string; health: string}>}
      expect(doc.running).toBe(true)
      expect(doc.services.find((s) => s.name === 'l01-data-layer')?.health).toBe('unhealthy')
      const human = await cli('status')
      expect(human.code).toBe(1)
      expect(human.stdout).toContain('unhealthy')
    } finally {
      await cli('down')
    }
  }, 180_000)
})
