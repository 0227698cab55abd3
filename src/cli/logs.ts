/**
 * The embedded platform's log (.platform/platform.log: the services' JSON lines and the CLI's
 * own lines) as a person reads it, one compact line per record in the manner of
 * `docker compose up`, or as the raw records for machines.
 */
import {closeSync, openSync, readSync} from 'node:fs'
import {fileSize, readFileOr} from '../core/index.js'
import {style} from './output.js'

interface LogRecord {
  level?: number
  time?: number
  name?: string
  msg?: string
  method?: string
  route?: string
  url?: string
  status?: number
  ms?: number
  err?: {message?: string}
}

const SERVICES: Record<string, {prefix: string; colour: (s: string) => string}> = {
  'l01-data-layer': {prefix: 'l01', colour: style.info},
  'l09-api-gateway': {prefix: 'l09', colour: style.accent},
}

/** What a user may name a service by, for `logs SERVICE`. */
export const SERVICE_ALIASES: Record<string, string> = {
  l01: 'l01-data-layer',
  'data-layer': 'l01-data-layer',
  'l01-data-layer': 'l01-data-layer',
  l09: 'l09-api-gateway',
  gateway: 'l09-api-gateway',
  'l09-api-gateway': 'l09-api-gateway',
}

const LEVELS: Record<number, string> = {10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL'}

export function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    return JSON.parse(line) as LogRecord
  } catch {
    return undefined
  }
}

const clock = (t: number) => new Date(t).toTimeString().slice(0, 8)

/** One record as a person reads it: `l01 | 11:02:03 GET /agents/:id 200 1.2ms`. */
export function formatLine(line: string): string {
  const r = parseRecord(line)
  if (!r) return style.dim(line)
  const svc = SERVICES[r.name ?? ''] ?? {prefix: (r.name ?? 'log').slice(0, 3), colour: style.dim}
  const head = `${svc.colour(`${svc.prefix} |`)} ${style.dim(clock(r.time ?? Date.now()))}`
  if (r.msg === 'request' && r.method) {
    const status = String(r.status ?? '-')
    const coloured = (r.status ?? 0) >= 500 ? style.bad(status) : (r.status ?? 0) >= 400 ? style.warn(status) : style.ok(status)
    return `${head} ${r.method} ${r.route ?? r.url ?? ''} ${coloured} ${style.dim(`${r.ms ?? '?'}ms`)}`
  }
  const level = LEVELS[r.level ?? 30] ?? 'INFO'
  const label = (r.level ?? 30) >= 50 ? style.bad(level) : (r.level ?? 30) >= 40 ? style.warn(level) : style.dim(level)
  return `${head} ${label} ${r.msg ?? ''}${r.err?.message ? `: ${r.err.message}` : ''}`
}

export interface LogFilter {
  /** Only this service's records (a full name; see SERVICE_ALIASES). */
  service?: string
  /** Only records at or after this time (epoch ms). Lines that are not records have no time and pass. */
  since?: number
}

export function matches(line: string, f: LogFilter): boolean {
  if (!line) return false
  const r = parseRecord(line)
  if (f.service && r?.name !== f.service) return false
  if (f.since !== undefined && r?.time !== undefined && r.time < f.since) return false
  return f.service === undefined || r !== undefined
}

/** The log's lines that pass the filter, the last `tail` of them when given. */
export function readLog(path: string, f: LogFilter & {tail?: number} = {}): string[] {
  const lines = readFileOr(path)
    .split('\n')
    .filter((l) => matches(l, f))
  return f.tail === undefined ? lines : lines.slice(-f.tail)
}

/**
 * Calls onBytes with the whole lines appended to path from `offset` on (default: its end
 * now), as bytes, as many as each read brings (a partial last line waits for its end), so a
 * busy log costs one write per read rather than one per line; checks every 200 ms, until the
 * returned stop() is called. A file that does not exist yet is waited for.
 */
export function followBytes(path: string, onBytes: (whole: Buffer) => void, offset?: number): () => void {
  let at = offset ?? fileSize(path)
  let partial = Buffer.alloc(0)
  const buf = Buffer.alloc(64 * 1024)
  const poll = () => {
    const size = fileSize(path)
    if (size < at) [at, partial] = [0, Buffer.alloc(0)] // truncated or replaced: start over
    if (size === at) return
    const fd = openSync(path, 'r')
    try {
      for (let n: number; (n = readSync(fd, buf, 0, buf.length, at)) > 0; at += n) {
        const end = buf.lastIndexOf(0x0a, n - 1) + 1
        const whole = end > 0 ? Buffer.concat([partial, buf.subarray(0, end)]) : undefined
        partial = Buffer.concat([end > 0 ? Buffer.alloc(0) : partial, buf.subarray(end, n)])
        if (whole) onBytes(whole)
      }
    } finally {
      closeSync(fd)
    }
  }
  const timer = setInterval(poll, 200)
  return () => {
    clearInterval(timer)
    poll()
  }
}

/** followBytes, as lines of text (without empty ones). */
export function followLog(path: string, onLines: (lines: string[]) => void, offset?: number): () => void {
  return followBytes(
    path,
    (whole) => {
      const lines = whole.toString('utf8').split('\n').filter(Boolean)
      if (lines.length) onLines(lines)
    },
    offset,
  )
}
