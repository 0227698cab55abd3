/**
 * A throwaway PostgreSQL cluster for tests: initdb in a temp dir (as the `postgres` user
 * when running as root, since initdb refuses root), a free loopback port, fsync off.
 * It can be stopped and started again to test what happens while the database is away.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {portFree} from '../../src/core/index.js'

export interface Cluster {
  url: string
  port: number
  dir: string
  stop(): void
  start(): void
  destroy(): void
}

/** The newest installed PostgreSQL bin directory, or undefined. */
export function findPgBin(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? join(base, versions[0], 'bin') : undefined
}

/** The kernel's range for ephemeral ports: outgoing connections and listen(0) take theirs from it. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0
  } catch {
    return 0
  }
}

/**
 * A loopback port that was free a moment ago, for a server a test starts later. It is taken
 * below the kernel's ephemeral range: a port from listen(0) can be taken meanwhile as the
 * local port of any outgoing connection (a parallel load test makes thousands), and the
 * server's start then fails with "port in use".
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow()
  if (low > 11_000) {
    for (let i = 0; i < 50; i++) {
      const port = 10_000 + Math.floor(Math.random() * (low - 10_000))
      if (await portFree(port)) return port
    }
  }
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

function postgresIds(): {uid: number; gid: number} {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], {encoding: 'utf8'}).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], {encoding: 'utf8'}).trim())
  return {uid, gid}
}

export async function startCluster(): Promise<Cluster> {
  const bin = findPgBin()
  if (!bin)
    throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); test/support/test-all.sh installs it as root')
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'platform-pg-'))
  const data = join(dir, 'data')
  if (asRoot) {
    const {uid, gid} = postgresIds()
    chownSync(dir, uid, gid)
    chmodSync(dir, 0o700)
  }
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, {
      stdio: 'pipe',
      cwd: dir,
    })
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'])
  const port = await freePort()
  const opts =
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c ` +
    `max_connections=300`
  const start = () => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start'])
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])
  start()
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    stop,
    destroy() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // already stopped
      }
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
