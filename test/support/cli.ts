/** Runs the built CLI (bin/run.js) as a subprocess, like a user. */
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {join} from 'node:path'
import {packageRoot} from '../../src/core/index.js'

export const BIN = join(packageRoot(), 'bin', 'run.js')

/** As an installed CLI runs: vitest's NODE_ENV=test would put oclif in development mode. */
const USER_ENV = {NODE_ENV: 'production', NO_COLOR: '1'}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export function runCli(
  args: string[],
  opts: {cwd?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; timeoutMs?: number} = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...(opts.nodeArgs ?? []), BIN, ...args],
      {cwd: opts.cwd, env: {...process.env, ...USER_ENV, ...opts.env}, timeout: opts.timeoutMs ?? 60_000},
      (err, stdout, stderr) => resolve({code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr}),
    )
  })
}

export function spawnCli(args: string[], opts: {cwd?: string; env?: NodeJS.ProcessEnv} = {}): ChildProcess & {output: () => string} {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: {...process.env, ...USER_ENV, ...opts.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  return Object.assign(child, {output: () => out})
}

export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)))

/** Polls url until it answers 200, or throws after timeoutMs. */
export async function waitForOk(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url)
      if (r.ok) return
      last = `${r.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`)
}

/**
 * Runs the CLI in a real pseudo-terminal (util-linux `script`), so stdin and stdout are TTYs, and types input into it.
 * Colour is left to the terminal: NO_COLOR and FORCE_COLOR are only what opts.env sets.
 */
export function inTerminal(
  args: string[],
  opts: {cwd: string; env?: NodeJS.ProcessEnv; input?: string},
): Promise<{code: number | null; output: string}> {
  // A person's terminal, not a CI job's: with CI set, chalk turns colour off even on a terminal.
  const {NO_COLOR: _n, FORCE_COLOR: _f, CI: _ci, ...env} = process.env
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: opts.cwd,
    env: {...env, NODE_ENV: 'production', TERM: 'xterm-256color', ...opts.env},
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  // stdin stays open while the CLI runs: at its end `script` would end the session.
  child.stdin.write(opts.input ?? '')
  return new Promise((resolve) => child.once('exit', (code) => resolve({code, output})))
}
