/**
 * A foreground `up` as a person sees it, in a real pseudo-terminal (util-linux `script`):
 * its steps, the status table, one readable line per request, no JSON records, no colour
 * with NO_COLOR, and a Ctrl-C typed during the start that never claims the platform is up.
 */
import {spawn} from 'node:child_process'
import {chmodSync, mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, waitForOk} from '../support/cli.js'
import {freePort} from '../support/postgres.js'

const ANSI = /\x1b\[[0-9;]*m/g

/** `platform up` in a pseudo-terminal; type() writes keys to it (\x03 is Ctrl-C). */
async function upInTerminal(env: NodeJS.ProcessEnv = {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'platform-tty-'))
  chmodSync(cwd, 0o755)
  const [l01, l09] = [await freePort(), await freePort()]
  // A person's terminal, not a CI job's: with CI set, chalk turns colour off even on a terminal.
  const {NO_COLOR: _n, FORCE_COLOR: _f, CI: _ci, ...base} = process.env
  // `exec`: script runs its command through $SHELL or /bin/sh; dash would stay as the parent,
  // take the Ctrl-C itself and report 130 whatever the platform's own exit code.
  const child = spawn('script', ['-qec', `exec '${process.execPath}' '${BIN}' up`, '/dev/null'], {
    cwd,
    env: {...base, NODE_ENV: 'production', TERM: 'xterm-256color', L01_PORT: String(l01), L09_PORT: String(l09), ...env},
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return {
    cwd,
    gateway: `http://127.0.0.1:${l09}`,
    output: () => output,
    type: (keys: string) => child.stdin.write(keys),
    exited,
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  }
}

const until = async (ok: () => boolean, ms: number) => {
  const end = Date.now() + ms
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
}

describe('platform up in the foreground on a terminal (built bin/run.js, a real pseudo-terminal)', () => {
  it('shows its steps, the table and one readable, coloured line per request; Ctrl-C stops it', async () => {
    const t = await upInTerminal()
    try {
      await waitForOk(`${t.gateway}/health/ready`, 90_000)
      const key = readFileSync(join(t.cwd, '.platform', 'api.key'), 'utf8').trim()
      expect((await fetch(`${t.gateway}/api/v1/agents/`, {headers: {'x-api-key': key}})).status).toBe(200)
      await until(() => /GET \/api\/v1\/agents\/ 200/.test(t.output().replace(ANSI, '')), 5000)
      t.type('\x03')
      expect(await t.exited).toBe(0)
      const raw = t.output()
      const seen = raw.replace(ANSI, '')
      expect(raw).toMatch(ANSI) // colour on a terminal
      expect(seen).toContain('› creating the database')
      expect(seen).toContain('› starting L01 and L09')
      expect(seen).toMatch(/Platform is up\.\s+service\s+url\s+health\s+uptime/)
      expect(seen).toMatch(/l09 \| \d\d:\d\d:\d\d GET \/api\/v1\/agents\/ 200 [\d.]+ms/)
      expect(seen).toMatch(/l01 \| \d\d:\d\d:\d\d GET \/agents\/ 200 [\d.]+ms/)
      expect(seen).not.toContain('{"level"') // no JSON records on a terminal
      // The log file keeps the records for `platform logs`.
      expect(readFileSync(join(t.cwd, '.platform', 'platform.log'), 'utf8')).toMatch(
        /"route":"\/api\/v1\/agents\/","url":"\/api\/v1\/agents\/","status":200/,
      )
    } finally {
      t.kill()
    }
  }, 120_000)

  it('with NO_COLOR: no escape codes at all', async () => {
    const t = await upInTerminal({NO_COLOR: '1'})
    try {
      await waitForOk(`${t.gateway}/health/ready`, 90_000)
      await until(() => t.output().includes('l09 |'), 5000)
      t.type('\x03')
      expect(await t.exited).toBe(0)
      expect(t.output()).toContain('Platform is up.')
      expect(t.output()).not.toMatch(/\x1b\[/)
    } finally {
      t.kill()
    }
  }, 120_000)

  it('a Ctrl-C during the start stops it without saying it is up', async () => {
    const t = await upInTerminal()
    try {
      await until(() => t.output().includes('› '), 60_000) // it has begun
      t.type('\x03')
      expect(await t.exited).toBe(0)
      expect(t.output()).toContain('SIGINT')
      expect(t.output()).not.toContain('Platform is up')
      expect(await fetch(`${t.gateway}/health/ready`).catch(() => 'closed')).toBe('closed')
    } finally {
      t.kill()
    }
  }, 120_000)
})
