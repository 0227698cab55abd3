import {linkSync, mkdirSync, unlinkSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {PlatformError} from './errors.js'
import {readFileOr} from './files.js'

/**
 * Whether a process with this PID runs (EPERM: it does, owned by someone else). A zombie
 * (killed, not yet reaped: an init that never reaps keeps them) does not.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
  const stat = readFileOr(`/proc/${pid}/stat`)
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

const held = new Set<string>()
let exitHookInstalled = false

/**
 * Takes an exclusive lockfile holding this process's PID (an atomic link). A lock left
 * by a dead process is taken over; one held by a live process, this one included, is an
 * error naming its PID: two writers on one PGlite directory corrupt it.
 * Returns the release function.
 */
export function acquireLock(path: string, what: string, code: 'DATABASE_LOCKED' | 'LOCKED' = 'DATABASE_LOCKED'): () => void {
  mkdirSync(dirname(path), {recursive: true})
  for (let attempt = 0; attempt < 3; attempt++) {
    // The PID is written to a file of our own first and then hard-linked into place, so the
    // lock never exists without its owner (a reader could take an empty one for stale).
    const mine = `${path}.${process.pid}.tmp`
    writeFileSync(mine, `${process.pid}\n`, {mode: 0o600})
    try {
      linkSync(mine, path)
      held.add(path)
      if (!exitHookInstalled) {
        exitHookInstalled = true
        process.once('exit', () => {
          for (const p of held) safeUnlink(p)
        })
      }
      return () => {
        if (held.delete(path)) safeUnlink(path)
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    } finally {
      safeUnlink(mine)
    }
    const owner = Number.parseInt(readFileOr(path), 10)
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) {
      throw new PlatformError(code, `${what} is in use by process ${owner}${owner === process.pid ? ' (this process)' : ''}`, {
        suggestion: `stop process ${owner} (for example with \`platform down\`), or point this command at another data directory`,
      })
    }
    safeUnlink(path) // stale: its owner is gone
  }
  throw new PlatformError(code, `could not take the lock ${path}`)
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}
