import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {createServer} from 'node:net'

/** Whether host:port can be bound right now. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({port, host, exclusive: true}, () => srv.close(() => resolve(true)))
  })
}

/** Socket inodes listening on port, from /proc/net/tcp and tcp6 (Linux). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10 || cols[3] !== '0A') continue // 0A: LISTEN
      if (Number.parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!)
    }
  }
  return inodes
}

/**
 * What holds a TCP port, for the error message: "pid 123 (node bin/run.js serve ...)".
 * Linux only, and only for processes this user may inspect; else undefined.
 */
export function portHolder(port: number): string | undefined {
  const inodes = listeningInodes(port)
  if (inodes.size === 0) return undefined
  let pids: string[] = []
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return undefined
  }
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      let target = ''
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      const m = /^socket:\[(\d+)\]$/.exec(target)
      if (m && inodes.has(m[1]!)) {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
        return `pid ${pid} (${cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd})`
      }
    }
  }
  return 'a process this user cannot inspect (perhaps a container: see `docker ps`)'
}
