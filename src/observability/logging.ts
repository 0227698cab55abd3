import type {FastifyBaseLogger, FastifyServerOptions} from 'fastify'
import pino from 'pino'

/** Where a service's JSON log lines go, and from which level. */
export interface LogTarget {
  level: string
  /** Appended to this file; else written to stdout. */
  file?: string
}

const FLUSH_MS = 250

export interface ServiceLog {
  logger: FastifyServerOptions['logger']
  /** Writes out what is still buffered; call after the server closed. */
  flush(): Promise<void>
}

/**
 * The one-line-per-request log at little cost: lines are buffered and written
 * asynchronously (sonic-boom), never one synchronous write per line on the request path.
 * Several services may append to one file: each write holds whole lines.
 */
export function serviceLog(target: LogTarget | undefined): ServiceLog {
  if (!target || target.level === 'silent') return {logger: false, flush: async () => {}}
  const stream = pino.destination({dest: target.file ?? 1, sync: false, minLength: 4096, mkdir: true, append: true})
  // A quiet service's last lines would wait for 4 KiB of company: written out a few times a second.
  const timer = setInterval(() => {
    try {
      stream.flush()
    } catch {
      // still opening, or closed: the next tick or end() writes it
    }
  }, FLUSH_MS).unref()
  return {
    logger: {level: target.level, stream},
    flush: () =>
      new Promise((resolve) => {
        clearInterval(timer)
        const done = () => resolve()
        // Not yet open (nothing was logged), or already gone: nothing to write out.
        if ((stream as {destroyed?: boolean}).destroyed) return done()
        stream.once('close', done)
        stream.once('error', done)
        stream.end()
      }),
  }
}

/** What the one line per request says. */
export interface RequestLine {
  reqId: string
  method: string
  route: string
  url: string
  status: number
  ms: number
}

type Destination = {write(line: string): unknown}

/**
 * The writer of the one line per request: the line pino would write (its fields, in its
 * order, after the logger's own bindings), built as one template instead of through pino's
 * generic serialiser, which costs about twice as much on the hot path. A logger without a
 * stream of its own (Fastify's, when the log is off) gets the line through logger.info.
 */
export function requestLineWriter(logger: FastifyBaseLogger): (line: RequestLine) => void {
  const own = logger as unknown as Record<symbol, unknown>
  const stream = own[pino.symbols.streamSym] as Destination | undefined
  const bindings = own[pino.symbols.chindingsSym]
  if (typeof stream?.write !== 'function' || typeof bindings !== 'string') return (line) => logger.info(line, 'request')
  const info = pino.levels.values.info
  const q = JSON.stringify
  return (l) => {
    if (!((pino.levels.values[logger.level] ?? Number.POSITIVE_INFINITY) <= info)) return
    stream.write(
      `{"level":${info},"time":${Date.now()}${bindings},"reqId":${q(l.reqId)},"method":${q(l.method)},"route":${q(l.route)},` +
        `"url":${q(l.url)},"status":${l.status},"ms":${l.ms},"msg":"request"}\n`,
    )
  }
}
