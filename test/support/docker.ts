/**
 * The docker tier's engine and images. No registry is reachable, so the engine is this
 * machine's `dockerd` (Debian's docker.io) on a private socket, and every image is a rootfs
 * made from this machine's own binaries (with the libraries `ldd` names) and busybox-static,
 * loaded with `docker import`. Images are built only when missing: the private daemon keeps
 * its data root under a fixed directory, so they survive between runs on one machine.
 */
import {execFileSync, spawn} from 'node:child_process'
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {execa, type Result} from 'execa'

export interface Dockerd {
  /** For `docker --host` / DOCKER_HOST, e.g. unix:///tmp/platform-dockerd/docker.sock. */
  host: string
  /** Stops the daemon if startDockerd started it (a reused one is left running); keeps the image cache. */
  stop(): void
}

export interface TestImages {
  node: string
  postgres: string
  prometheus: string
  busybox: string
}

/** Fixed, not a temp dir: the data root (image cache) outlives a test run. */
export const DOCKERD_DIR = '/tmp/platform-dockerd'
const SOCKET = join(DOCKERD_DIR, 'docker.sock')
const PIDFILE = join(DOCKERD_DIR, 'docker.pid')
const LOG = join(DOCKERD_DIR, 'dockerd.log')
const OWN_HOST = `unix://${SOCKET}`
/** Where the docker CLI looks when DOCKER_HOST is unset. */
const DEFAULT_SOCKET = '/var/run/docker.sock'

/** `docker` against one daemon; --host beats DOCKER_HOST and any docker context. */
export function docker(
  host: string,
  args: string[],
  opts: {reject?: boolean; timeout?: number; env?: Record<string, string>; input?: string} = {},
): Promise<Result> {
  return execa('docker', ['--host', host, ...args], {reject: opts.reject ?? true, timeout: opts.timeout, env: opts.env, input: opts.input})
}

/** The daemon the docker CLI would use by itself: DOCKER_HOST, else the default socket if present. */
function ambientHost(): string | undefined {
  if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST
  return existsSync(DEFAULT_SOCKET) ? `unix://${DEFAULT_SOCKET}` : undefined
}

async function answers(host: string): Promise<boolean> {
  const r = await docker(host, ['info', '--format', '{{.ServerVersion}}'], {reject: false, timeout: 10_000})
  return r.exitCode === 0 && String(r.stdout).trim() !== ''
}

function answersSync(host: string): boolean {
  try {
    return (
      execFileSync('docker', ['--host', host, 'info', '--format', '{{.ServerVersion}}'], {
        stdio: 'pipe',
        timeout: 10_000,
        encoding: 'utf8',
      }).trim() !== ''
    )
  } catch {
    return false
  }
}

/** dockerd lives in /usr/sbin, which a non-login PATH may lack. */
const SBIN_PATH = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean).join(delimiter)

function which(cmd: string): string | undefined {
  return SBIN_PATH.split(delimiter)
    .map((d) => join(d, cmd))
    .find((p) => existsSync(p))
}

/** Alive and not a zombie: a child we never reaped (the event loop is blocked in stop()) still answers kill(0). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
  } catch {
    return false
  }
}

/** The pid of a live dockerd recorded in our pidfile (checked by name, in case the pid was reused). */
function ownDockerdPid(): number | undefined {
  try {
    const pid = Number(readFileSync(PIDFILE, 'utf8').trim())
    if (!pid || !alive(pid)) return undefined
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd' ? pid : undefined
  } catch {
    return undefined
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function waitGone(pid: number, ms: number): boolean {
  const deadline = Date.now() + ms
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    sleepSync(100)
  }
  return true
}

/** SIGTERM lets dockerd stop its containers and containerd; SIGKILL only if that takes over 20 s. */
function stopDaemon(pid: number): void {
  if (!alive(pid)) return
  process.kill(pid, 'SIGTERM')
  if (waitGone(pid, 20_000)) return
  process.kill(pid, 'SIGKILL')
  waitGone(pid, 5_000)
}

function logTail(): string {
  try {
    return readFileSync(LOG, 'utf8').split('\n').slice(-25).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Whether the docker tier can run here: a daemon answers, or we may start dockerd ourselves. */
export function dockerAvailable(): boolean {
  const ambient = ambientHost()
  if (ambient && answersSync(ambient)) return true
  return process.getuid?.() === 0 && which('dockerd') !== undefined
}

export async function startDockerd(): Promise<Dockerd> {
  const keep = (host: string): Dockerd => ({host, stop() {}})
  const ambient = ambientHost()
  if (ambient && (await answers(ambient))) return keep(ambient)
  // Left running by an earlier run (or being started right now by another test process).
  const earlier = ownDockerdPid()
  if (earlier) {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      if (await answers(OWN_HOST)) return keep(OWN_HOST)
      if (!alive(earlier)) break
    }
    if (alive(earlier))
      throw new Error(`dockerd pid ${earlier} (${PIDFILE}) does not answer on ${SOCKET}; stop it. Last lines of ${LOG}:\n${logTail()}`)
  }

  if (process.getuid?.() !== 0) {
    throw new Error(
      'the docker tier needs a Docker daemon: set DOCKER_HOST to one that answers, ' +
        'or run the tests as root so they can start dockerd (npm test installs docker.io)',
    )
  }
  const dockerd = which('dockerd')
  if (!dockerd) throw new Error("dockerd is not installed: install Debian's docker.io (test/support/test-all.sh does it as root)")

  mkdirSync(DOCKERD_DIR, {recursive: true})
  // Our own (empty) config, so a host /etc/docker/daemon.json (e.g. with "hosts") cannot clash with our flags.
  writeFileSync(join(DOCKERD_DIR, 'daemon.json'), '{}\n')
  const log = openSync(LOG, 'w')
  const args = [
    '--config-file',
    join(DOCKERD_DIR, 'daemon.json'),
    '--data-root',
    join(DOCKERD_DIR, 'data'),
    '--exec-root',
    join(DOCKERD_DIR, 'exec'),
    '--pidfile',
    PIDFILE,
    '--host',
    OWN_HOST,
  ]
  // Detached: a test run that dies without stop() leaves a daemon the next run reuses.
  const child = spawn(dockerd, args, {detached: true, stdio: ['ignore', log, log], env: {...process.env, PATH: SBIN_PATH}})
  closeSync(log)
  child.unref()
  let exited = false
  child.once('exit', () => (exited = true))
  child.once('error', () => (exited = true))

  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
    if (await answers(OWN_HOST)) {
      const pid = child.pid
      // Lost a start-up race to another test process: its daemon, not ours to stop.
      if (exited || !pid) return keep(OWN_HOST)
      return {host: OWN_HOST, stop: () => stopDaemon(pid)}
    }
    if (exited && !ownDockerdPid()) throw new Error(`dockerd exited during start-up. Last lines of ${LOG}:\n${logTail()}`)
  }
  if (child.pid && !exited) stopDaemon(child.pid)
  throw new Error(`dockerd did not answer on ${SOCKET} within 60 s. Last lines of ${LOG}:\n${logTail()}`)
}

// ---------------------------------------------------------------------------------------
// Images

/** A rootfs recipe. Bump the tag's -vN when a recipe changes: images are only built when their tag is missing. */
interface Recipe {
  tag: string
  /** Host files or directories, copied to the same path; every ELF file among them brings the libraries `ldd` names. */
  copy: string[]
  /** Paths left out of `copy` directories. */
  exclude?: RegExp
  /** busybox applets linked into /bin, or 'all'. */
  applets: readonly string[] | 'all'
  /** Besides root and nobody; each gets a group of the same name and id, and its home directory. */
  users?: Array<{name: string; id: number; home: string}>
  /** Empty directories, with an owner (uid = gid) when not root. */
  dirs?: Array<{path: string; mode: number; owner?: number}>
  files?: Array<{path: string; content: string; mode?: number}>
  /** `docker import --change` lines. */
  changes: string[]
}

const BUSYBOX = '/bin/busybox'
/** What `docker import --change` accepts (dockerd 20.10); other instructions are applied by a build. */
const IMPORT_CHANGES = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR'])
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const PG = '/usr/lib/postgresql/15'
/** Enough for `docker exec ... sh`, healthchecks (wget) and the postgres entrypoint. */
const TOOLS = [
  'sh',
  'cat',
  'chmod',
  'cp',
  'echo',
  'env',
  'grep',
  'id',
  'kill',
  'ls',
  'mkdir',
  'mktemp',
  'ps',
  'rm',
  'sed',
  'sleep',
  'test',
  'wget',
] as const

/**
 * Stands in for the official image's docker-entrypoint.sh, for what the platform stack uses:
 * POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default the user), PGDATA,
 * POSTGRES_HOST_AUTH_METHOD (default scram-sha-256) and POSTGRES_INITDB_ARGS. It runs as the
 * image user (postgres, 999), so initdb needs no privilege dropping.
 */
const PG_ENTRYPOINT = `#!/bin/sh
set -eu
: "\${POSTGRES_USER:=postgres}"
: "\${POSTGRES_DB:=$POSTGRES_USER}"
: "\${PGDATA:=/var/lib/postgresql/data}"
: "\${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
# Like the official image: the password from a file (a Docker secret) when POSTGRES_PASSWORD_FILE names one.
if [ -n "\${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE"); fi
export PGDATA
[ "$#" -gt 0 ] || set -- postgres
# Like the official image: "docker run <img> -c name=value" means postgres with those options.
if [ "\${1#-}" != "$1" ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "\${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s\\n' "\${POSTGRES_PASSWORD:-}" > "$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C \\
    --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \${POSTGRES_INITDB_ARGS:-}
  rm -f "$pwfile"
  {
    echo "host all all 0.0.0.0/0 $POSTGRES_HOST_AUTH_METHOD"
    echo "host all all ::/0 $POSTGRES_HOST_AUTH_METHOD"
  } >> "$PGDATA/pg_hba.conf"
  # In the config file, not on the command line, so it holds whatever command a compose file gives.
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  if [ "$POSTGRES_HOST_AUTH_METHOD" = md5 ]; then echo "password_encryption = md5" >> "$PGDATA/postgresql.conf"; fi
  if [ "$POSTGRES_DB" != postgres ]; then
    # Single-user mode: no temporary server to start and stop. It reports SQL errors but exits 0.
    db=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
    out=$(echo "CREATE DATABASE \\"$db\\"" | postgres --single -D "$PGDATA" postgres 2>&1)
    case "$out" in *ERROR*|*FATAL*) echo "$out" >&2; exit 1 ;; esac
  fi
  echo "database initialized in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi
exec "$@"
`

const PROMETHEUS_YML = `# Default config: scrape Prometheus itself. The platform stack mounts its own.
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
`

const RECIPES: Record<keyof TestImages, Recipe> = {
  node: {
    tag: 'platform-test/node:20-v1',
    copy: ['/usr/bin/node'],
    applets: TOOLS,
    users: [{name: 'node', id: 1000, home: '/home/node'}],
    // Runs as root like the official image; a Dockerfile FROM it needs no RUN.
    changes: [`ENV PATH=${PATH_ENV}`, 'CMD ["node"]'],
  },
  postgres: {
    tag: 'platform-test/postgres:15-v2',
    copy: [
      ...['postgres', 'initdb', 'pg_ctl', 'pg_isready', 'psql'].map((b) => `${PG}/bin/${b}`),
      `${PG}/lib`,
      '/usr/share/postgresql/15',
      '/usr/share/zoneinfo',
    ],
    // JIT needs libLLVM (~100 MB); without its provider PostgreSQL simply runs without JIT.
    exclude: /\/(llvmjit[^/]*|bitcode)$/,
    applets: TOOLS,
    users: [{name: 'postgres', id: 999, home: '/var/lib/postgresql'}],
    dirs: [
      // Owned by 999 in the image, so a new named volume mounted here inherits that owner.
      {path: '/var/lib/postgresql/data', mode: 0o700, owner: 999},
      {path: '/var/run/postgresql', mode: 0o2775, owner: 999},
    ],
    files: [{path: '/usr/local/bin/docker-entrypoint.sh', content: PG_ENTRYPOINT, mode: 0o755}],
    changes: [
      `ENV PATH=${PG}/bin:${PATH_ENV}`,
      'ENV PGDATA=/var/lib/postgresql/data',
      'USER postgres',
      'WORKDIR /var/lib/postgresql',
      'EXPOSE 5432',
      // SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave; SIGINT is "fast".
      'STOPSIGNAL SIGINT',
      'ENTRYPOINT ["docker-entrypoint.sh"]',
      'CMD ["postgres"]',
    ],
  },
  prometheus: {
    tag: 'platform-test/prometheus:2-v1',
    copy: ['/usr/bin/prometheus'],
    applets: TOOLS,
    dirs: [{path: '/prometheus', mode: 0o755, owner: 65534}],
    files: [{path: '/etc/prometheus/prometheus.yml', content: PROMETHEUS_YML}],
    changes: [
      `ENV PATH=${PATH_ENV}`,
      'USER nobody',
      'WORKDIR /prometheus',
      'EXPOSE 9090',
      'ENTRYPOINT ["/usr/bin/prometheus"]',
      'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"]',
    ],
  },
  busybox: {
    tag: 'platform-test/busybox:v1',
    copy: [],
    applets: 'all',
    changes: [`ENV PATH=${PATH_ENV}`, 'CMD ["sh"]'],
  },
}

function isElf(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const head = Buffer.alloc(4)
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
  } finally {
    closeSync(fd)
  }
}

/** Every library the ELF files load, as the paths `ldd` resolves them to (the loader included). */
async function libraries(elfs: string[]): Promise<string[]> {
  if (elfs.length === 0) return []
  // One call for all files; a static binary makes ldd exit 1 with "not a dynamic executable".
  const {stdout} = await execa('ldd', elfs, {reject: false, env: {LC_ALL: 'C'}})
  const libs = new Set<string>()
  const missing: string[] = []
  for (const line of String(stdout).split('\n')) {
    const lost = /^\s+(\S+) => not found/.exec(line)
    if (lost) missing.push(lost[1]!)
    const found = /^\s+(?:\S+ => )?(\/\S+) \(0x/.exec(line)
    if (found) libs.add(found[1]!)
  }
  if (missing.length > 0) throw new Error(`libraries not found by ldd: ${[...new Set(missing)].join(', ')}`)
  return [...libs]
}

/** A file's content (symlinks followed) at the same path under root, with the same mode. */
function copyFile(root: string, path: string): void {
  const dest = join(root, path)
  mkdirSync(dirname(dest), {recursive: true})
  copyFileSync(realpathSync(path), dest)
  chmodSync(dest, statSync(path).mode & 0o7777)
}

function mkdirMode(path: string, mode: number): void {
  mkdirSync(path, {recursive: true})
  chmodSync(path, mode) // not subject to the umask, unlike mkdir's mode
}

/**
 * Builds the rootfs of a recipe under root. Returns the directories to give a non-root owner
 * in the tarball (done by tar, so building needs no root).
 */
async function makeRootfs(recipe: Recipe, root: string): Promise<Array<{path: string; owner: number}>> {
  for (const dir of ['bin', 'etc', 'usr/bin', 'usr/local/bin', 'var']) mkdirSync(join(root, dir), {recursive: true})
  mkdirMode(join(root, 'tmp'), 0o1777)
  mkdirMode(join(root, 'root'), 0o700)

  const elfs: string[] = [BUSYBOX]
  for (const src of recipe.copy) {
    if (!existsSync(src)) throw new Error(`${src} is missing on this machine (test/support/test-all.sh installs what the images need)`)
    if (!statSync(src).isDirectory()) {
      copyFile(root, src)
      if (isElf(src)) elfs.push(src)
      continue
    }
    // Symlinks stay symlinks: the relative ones inside these trees (zoneinfo) still resolve.
    cpSync(src, join(root, src), {recursive: true, verbatimSymlinks: true, filter: (p) => !recipe.exclude?.test(p)})
    for (const entry of readdirSync(join(root, src), {recursive: true, withFileTypes: true})) {
      const copied = join(entry.parentPath, entry.name)
      if (entry.isFile() && isElf(copied)) elfs.push(copied.slice(root.length))
    }
  }
  for (const lib of await libraries(elfs)) copyFile(root, lib)

  copyFile(root, BUSYBOX)
  const applets =
    recipe.applets === 'all'
      ? execFileSync(BUSYBOX, ['--list'], {encoding: 'utf8'})
          .split('\n')
          .filter((a) => a && a !== 'busybox')
      : recipe.applets
  for (const applet of applets) {
    const link = join(root, 'bin', applet)
    if (!existsSync(link)) symlinkSync('busybox', link)
  }

  const users = [{name: 'root', id: 0, home: '/root'}, ...(recipe.users ?? [])]
  const passwd = users.map((u) => `${u.name}:x:${u.id}:${u.id}:${u.name}:${u.home}:/bin/sh`)
  const group = users.map((u) => `${u.name}:x:${u.id}:`)
  passwd.push('nobody:x:65534:65534:nobody:/nonexistent:/bin/false')
  group.push('nogroup:x:65534:')
  writeFileSync(join(root, 'etc/passwd'), `${passwd.join('\n')}\n`)
  writeFileSync(join(root, 'etc/group'), `${group.join('\n')}\n`)
  // glibc's defaults are close, but be explicit: /etc/hosts first, then Docker's DNS for service names.
  writeFileSync(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n')

  const owned: Array<{path: string; owner: number}> = []
  const dirs = [...(recipe.users ?? []).map((u) => ({path: u.home, mode: 0o755, owner: u.id})), ...(recipe.dirs ?? [])]
  for (const d of dirs) {
    mkdirMode(join(root, d.path), d.mode)
    if (d.owner) owned.push({path: d.path, owner: d.owner})
  }
  for (const f of recipe.files ?? []) {
    mkdirSync(dirname(join(root, f.path)), {recursive: true})
    writeFileSync(join(root, f.path), f.content, {mode: f.mode ?? 0o644})
  }
  for (const o of owned) {
    if (readdirSync(join(root, o.path)).some((e) => !owned.some((x) => x.path === join(o.path, e))))
      throw new Error(`${o.path} must stay empty to be owned by ${o.owner}`)
  }
  return owned.sort((a, b) => a.path.localeCompare(b.path))
}

async function buildImage(host: string, recipe: Recipe): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'platform-rootfs-'))
  try {
    const root = join(work, 'rootfs')
    const owned = await makeRootfs(recipe, root)
    const tarball = join(work, 'rootfs.tar')
    // Everything root-owned (and readable, whatever the umask was) except the owned directories,
    // which are empty and appended with their owner and own mode.
    const member = (p: string) => `.${p}`
    await execa('tar', [
      '--create',
      '--file',
      tarball,
      '--numeric-owner',
      '--owner=0',
      '--group=0',
      '--mode=go+rX',
      '--anchored',
      ...owned.map((o) => `--exclude=${member(o.path)}`),
      '-C',
      root,
      '.',
    ])
    for (const o of owned) {
      await execa('tar', [
        '--append',
        '--file',
        tarball,
        '--numeric-owner',
        `--owner=${o.owner}`,
        `--group=${o.owner}`,
        '--no-recursion',
        '-C',
        root,
        member(o.path),
      ])
    }
    // Instructions `docker import --change` refuses (STOPSIGNAL, in 20.10) go into a context-free
    // build FROM the imported image: metadata only, no RUN, so still offline and quick.
    const later = recipe.changes.filter((c) => !IMPORT_CHANGES.has(c.split(' ')[0]!.toUpperCase()))
    const changes = recipe.changes.filter((c) => !later.includes(c)).flatMap((c) => ['--change', c])
    const imported = await docker(host, ['import', ...changes, tarball, ...(later.length > 0 ? [] : [recipe.tag])], {timeout: 300_000})
    if (later.length > 0) {
      const dockerfile = [`FROM ${String(imported.stdout).trim()}`, ...later, ''].join('\n')
      // The classic builder, as docker-compose 1.29 uses (a newer CLI would want buildx).
      await docker(host, ['build', '--quiet', '--tag', recipe.tag, '-'], {input: dockerfile, env: {DOCKER_BUILDKIT: '0'}})
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}

/** Builds the missing test images on the daemon at host and returns their references. */
export async function buildTestImages(host: string): Promise<TestImages> {
  const names = Object.keys(RECIPES) as Array<keyof TestImages>
  await Promise.all(
    names.map(async (name) => {
      const recipe = RECIPES[name]
      const present = await docker(host, ['image', 'inspect', '--format', '{{.Id}}', recipe.tag], {reject: false})
      if (present.exitCode !== 0) await buildImage(host, recipe)
    }),
  )
  return Object.fromEntries(names.map((n) => [n, RECIPES[n].tag])) as unknown as TestImages
}

/** The image the docker tier builds the platform's app as. */
export const APP_IMAGE = 'platform-app:test'

/** The environment that points the CLI's stack at the test engine, the offline images and these host ports. */
export function stackEnv(
  host: string,
  images: TestImages,
  ports?: {l01: number; l09: number; prometheus: number; postgres: number},
): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: host,
    PLATFORM_BASE_IMAGE: images.node,
    PLATFORM_POSTGRES_IMAGE: images.postgres,
    PLATFORM_PROMETHEUS_IMAGE: images.prometheus,
    PLATFORM_APP_IMAGE: APP_IMAGE,
    // The classic builder: Debian's dockerd builds from the local base image without a registry.
    DOCKER_BUILDKIT: '0',
    ...(ports && {
      L01_HOST_PORT: String(ports.l01),
      L09_HOST_PORT: String(ports.l09),
      PROMETHEUS_HOST_PORT: String(ports.prometheus),
      POSTGRES_HOST_PORT: String(ports.postgres),
    }),
  }
}
