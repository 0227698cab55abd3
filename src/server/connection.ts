import {randomUUID} from 'node:crypto'
import {STATUS_CODES, maxHeaderSize} from 'node:http'
import type {Socket} from 'node:net'
import {PlatformError, type ServerLimits} from '../core/index.js'

const REQUEST_ID = /^[\w.:-]{1,128}$/
const REQUEST_ID_LINE = /\nx-request-id:[ \t]*([\w.:-]{1,128})[ \t]*\r?\n/i

/** The caller's x-request-id when it is a sane one, else a new id. */
export const requestId = (given: unknown): string => (typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID())

/** How long and how much a closing connection keeps discarding what the client still sends (nginx's lingering close). */
export const LINGER = {ms: 5000, bytes: 16 * 1024 * 1024}

const closing = new WeakSet<Socket>()

/**
 * Closes a connection the way nginx does after a refusal: the answer is followed by a FIN,
 * then whatever the client is still sending (the rest of a body) is read and dropped for a
 * bounded time and size. Closing at once would make the kernel answer those bytes with a
 * reset, which destroys the answer before the client has read it.
 */
export function lingeringClose(socket: Socket): void {
  if (closing.has(socket)) return
  closing.add(socket)
  if (socket.destroyed) return
  // The HTTP parser is detached: the bytes still coming are counted and dropped, never parsed as requests.
  socket.removeAllListeners('data')
  let seen = 0
  const timer = setTimeout(() => socket.destroy(), LINGER.ms).unref()
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.length
    if (seen > LINGER.bytes) socket.destroy()
  })
  socket.once('end', () => socket.destroy())
  socket.once('close', () => clearTimeout(timer))
  socket.end()
  socket.resume()
}

/** Makes Node's own close after a `connection: close` answer a lingering one. */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => lingeringClose(socket)
}

type ClientError = NodeJS.ErrnoException & {reason?: string; rawPacket?: Buffer}

const FRAMING: Record<string, string> = {
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length and Transfer-Encoding must not both be sent',
  HPE_INVALID_TRANSFER_ENCODING: 'Transfer-Encoding must end with chunked',
  HPE_INVALID_CHUNK_SIZE: 'a chunk size of the chunked body is not a hexadecimal number',
  HPE_INVALID_CONTENT_LENGTH: 'Content-Length must be one decimal number, sent once',
  HPE_INVALID_METHOD: 'the method is not an HTTP method',
  HPE_INVALID_URL: 'the request target is not a valid URL path',
  HPE_INVALID_VERSION: 'the HTTP version is not valid',
  HPE_CR_EXPECTED: 'a line of the request head does not end with CRLF',
  HPE_LF_EXPECTED: 'a line of the request head does not end with CRLF',
  HPE_INVALID_HEADER_TOKEN: 'a header name or value holds a character HTTP does not allow',
}

/** The refusal for an error Node's HTTP parser or its timers raised, in the catalogue's terms. */
export function refusalFor(err: ClientError, limits: ServerLimits): PlatformError {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new PlatformError('HEADERS_TOO_LARGE', `the request line and headers are over ${maxHeaderSize / 1024} KB`)
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const s = (ms: number) => `${ms / 1000} s`
    const within = `headers within ${s(limits.headersTimeoutMs)}, all of it within ${s(limits.requestTimeoutMs)}`
    return new PlatformError('REQUEST_TIMEOUT', `the request did not arrive in time (${within})`)
  }
  const known = FRAMING[err.code ?? '']
  return new PlatformError('BAD_REQUEST', `malformed HTTP request: ${known ?? err.reason ?? err.code ?? 'unreadable'}`)
}

/** Writes an answer straight on the socket, for refusals made before Fastify has a request. */
export function rawAnswer(e: PlatformError, id: string): string {
  const body = JSON.stringify(e.toBody())
  const head = [
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    `x-request-id: ${id}`,
  ]
  return `${head.join('\r\n')}\r\n\r\n${body}`
}

/**
 * Fastify's clientErrorHandler: what Node refuses below the routes (malformed framing,
 * oversized heads, timeouts) is answered in the contract's shape, with the caller's
 * request id when the head that was read names one, then the connection lingers closed.
 */
export function clientErrorHandler(limits: ServerLimits) {
  return (error: Error, socket: Socket): void => {
    const err = error as ClientError
    if (closing.has(socket)) return // answered already; the parser repeats its error on every later chunk
    const pending = (socket as Socket & {_httpMessage?: {headersSent: boolean}})._httpMessage
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy()
      return
    }
    const e = refusalFor(err, limits)
    const given = REQUEST_ID_LINE.exec(err.rawPacket?.toString('latin1') ?? '')?.[1]
    const answer = rawAnswer(e, requestId(given))
    if (e.code === 'REQUEST_TIMEOUT') {
      // A sender too slow to finish its head gets no more time: close as soon as the answer is out.
      closing.add(socket)
      socket.end(answer, () => socket.destroy())
      return
    }
    socket.write(answer)
    lingeringClose(socket)
  }
}
