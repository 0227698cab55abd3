import type {FastifyBaseLogger} from 'fastify'
import {createWriteStream, mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import type {Writable} from 'node:stream'
import pino from 'pino'

/** Where a service's JSON log lines go, and from which level. */
export interface LogTarget {
  level: string
  /** Appended to this file; else written to stdout. */
  file?: string
}

const FLUSH_MS = 250
/** Written out at once past this much: a busy service writes a few large chunks a second. */
const FLUSH_CHARS = 64 * 1024
/** Held unwritten past this much (a destination that stopped taking lines), lines are dropped and counted, never kept without bound. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024

export interface ServiceLog {
  /** Fastify's logger option: the level and the buffer lines go to; false when the log is off. */
  logger: {level: string; stream: LineBuffer} | false
  /** Writes out what is still buffered; call after the server closed. */
  flush(): Promise<void>
}

/** Makes a request line's text from its fields and its time (a logger's own: it knows the bindings). */
export type LineFormat = (time: number, line: RequestLine) => string

/** About what a request line holds besides its url and id: the flush threshold's estimate, not a limit. */
const REQUEST_LINE_CHARS = 200

/**
 * Log lines held as they come and written out together: a timer a few times a second, or
 * 64 KiB of lines, whichever is first, through a Node stream that owns partial writes and
 * backpressure. A line costs less than half of what it cost through sonic-boom, which
 * re-measures its growing buffer on every write (bench/logging measures both). Each chunk
 * holds whole lines, so several services may append to one file.
 *
 * A request line is held as its fields and made text with the rest of its chunk. Made
 * one at a time between requests, in a busy service, the text cost several times as much:
 * the formatting code and its data were out of the cache each time.
 */
export class LineBuffer {
  /** Lines in order: a line's text, or a request line as three items (its format, time and fields). */
  #items: Array<string | LineFormat | number | RequestLine> = []
  #chars = 0
  #dropped = 0
  readonly #out: Writable
  readonly #timer: NodeJS.Timeout

  constructor(out: Writable) {
    this.#out = out
    this.#timer = setInterval(() => this.flush(), FLUSH_MS).unref()
  }

  /** pino's destination interface: one whole line, with its newline. */
  write(line: string): boolean {
    if (!this.#taking()) return false
    this.#items.push(line)
    return this.#added(line.length)
  }

  /** A request line, as its fields: they are read when it is written out, so the caller hands them over. */
  request(format: LineFormat, time: number, line: RequestLine): boolean {
    if (!this.#taking()) return false
    this.#items.push(format, time, line)
    return this.#added(REQUEST_LINE_CHARS + line.url.length + line.reqId.length)
  }

  #taking(): boolean {
    if (this.#out.destroyed) return false
    if (this.#out.writableLength <= MAX_PENDING_BYTES) return true
    this.#dropped++
    return false
  }

  #added(chars: number): true {
    this.#chars += chars
    if (this.#chars >= FLUSH_CHARS) this.flush()
    return true
  }

  /** Hands what is held to the stream (which writes it out asynchronously). */
  flush(): void {
    if (this.#dropped && this.#out.writableLength <= MAX_PENDING_BYTES) {
      const line = {
        level: pino.levels.values.warn,
        time: Date.now(),
        msg: `${this.#dropped} log lines were dropped: the log's destination did not keep up`,
      }
      this.#items.push(`${JSON.stringify(line)}\n`)
      this.#dropped = 0
    }
    if (this.#items.length === 0 || this.#out.destroyed) return
    const items = this.#items
    this.#items = []
    this.#chars = 0
    let chunk = ''
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      chunk += typeof item === 'function' ? item(items[++i] as number, items[++i] as RequestLine) : item
    }
    this.#out.write(chunk)
  }

  /** Writes out the rest; a file is closed, standard output is left open. */
  end(closeStream: boolean): Promise<void> {
    clearInterval(this.#timer)
    this.flush()
    const out = this.#out
    return new Promise((resolve) => {
      if (out.destroyed) return resolve()
      out.once('error', () => resolve())
      if (closeStream) out.end(() => resolve())
      else out.write('', () => resolve())
    })
  }
}

/**
 * The one-line-per-request log at little cost: lines are buffered and written
 * asynchronously, never one write per line on the request path.
 */
export function serviceLog(target: LogTarget | undefined): ServiceLog {
  if (!target || target.level === 'silent') return {logger: false, flush: async () => {}}
  let out: Writable = process.stdout
  if (target.file) {
    mkdirSync(dirname(target.file), {recursive: true})
    const file = target.file
    out = createWriteStream(file, {flags: 'a'})
    // A log that cannot be written must not stop the service: said once, its lines are lost.
    let told = false
    out.on('error', (err) => {
      if (!told) process.stderr.write(`the log file ${file} cannot be written (${err.message}): its lines are lost\n`)
      told = true
    })
  }
  const buffer = new LineBuffer(out)
  return {logger: {level: target.level, stream: buffer}, flush: () => buffer.end(out !== process.stdout)}
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

/** What JSON must escape (quote, backslash, control characters) or may (surrogates): only such a string needs JSON.stringify. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/
/**
 * s as JSON.stringify writes it, without the call for the usual string that needs no escape:
 * in a busy service four calls a line cost a few percent of its CPU, the four tests far less.
 */
const jsonString = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`)

/** Methods and route templates, escaped once each: a service has a few dozen, and a lookup costs half a test. */
const escaped = new Map<string, string>()
function jsonStringOfFew(s: string): string {
  let json = escaped.get(s)
  if (json === undefined) {
    json = jsonString(s)
    if (escaped.size < 1024) escaped.set(s, json)
  }
  return json
}

const INFO = pino.levels.values.info

/**
 * The writer of the one line per request: the line pino would write (its fields, in its
 * order, after the logger's own bindings), built as one template instead of through pino's
 * generic serialiser, which costs about twice as much on the hot path. Into the service
 * log's buffer it goes as its fields, made text when the buffer is written out (so the
 * caller hands the line over and does not change it afterwards). A logger
 * without a stream of its own (Fastify's, when the log is off) gets the line through logger.info.
 */
export function requestLineWriter(logger: FastifyBaseLogger): (line: RequestLine) => void {
  const own = logger as unknown as Record<symbol, unknown>
  const stream = own[pino.symbols.streamSym] as Destination | undefined
  const bindings = own[pino.symbols.chindingsSym]
  if (typeof stream?.write !== 'function' || typeof bindings !== 'string') return (line) => logger.info(line, 'request')
  const {levelValSym} = pino.symbols
  // The level as it is now (it may be changed at run time), read without pino's two getters.
  const off = () => (own[levelValSym] as number) > INFO
  const format = lineFormat(bindings)
  if (stream instanceof LineBuffer) {
    return (l) => {
      if (!off()) stream.request(format, Date.now(), l)
    }
  }
  return (l) => {
    if (!off()) stream.write(format(Date.now(), l))
  }
}

/** The request line's text for a logger's bindings. */
function lineFormat(bindings: string): LineFormat {
  // The line's start changes once a millisecond; a busy service writes several lines in one.
  let millisecond = 0
  let head = ''
  return (now, l) => {
    if (now !== millisecond) {
      millisecond = now
      head = `{"level":${INFO},"time":${now}${bindings},"reqId":`
    }
    return (
      `${head}${jsonString(l.reqId)},"method":${jsonStringOfFew(l.method)},"route":${jsonStringOfFew(l.route)},` +
      `"url":${jsonString(l.url)},"status":${l.status},"ms":${l.ms},"msg":"request"}\n`
    )
  }
}
