import type {Socket} from 'node:net'
import type {FastifyServerOptions} from 'fastify'
import fp from 'fastify-plugin'
import {PlatformError, type ServerLimits} from '../core/index.js'
import {lingerOnClose} from './connection.js'

/** Bodies over this are refused with 413 before they are parsed. */
export const BODY_LIMIT = 1024 * 1024

/** A key is up to 255 characters (510 UTF-16 units); the router's default of 100 would refuse long ones. */
export const MAX_PARAM_LENGTH = 1024

/**
 * The Fastify options that carry the limits; they must be given when the instance is made.
 * Node checks the two timeouts every connectionsCheckingInterval (30 s by default): the check
 * runs every tenth of the headers timeout, and Node is given each timeout less one interval,
 * so a slow sender is cut off within the configured time, not up to an interval after it.
 */
export function limitOptions(limits: ServerLimits): Pick<FastifyServerOptions, 'keepAliveTimeout' | 'requestTimeout'> & {http: object} {
  const every = Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 10)))
  const early = (ms: number) => Math.max(every, ms - every)
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: early(limits.requestTimeoutMs),
    http: {
      headersTimeout: early(limits.headersTimeoutMs),
      requestTimeout: early(limits.requestTimeoutMs),
      connectionsCheckingInterval: every,
      // Node answers a missing Host with an empty 400; createServer refuses it in the one shape.
      requireHostHeader: false,
    },
  }
}

/**
 * Bounds what one client can hold: connections beyond maxConnections are closed as soon as
 * they are accepted, and a connection that pipelines more than maxPipelinedRequests requests
 * without reading the answers is refused and closed. Node runs every pipelined request at
 * once, so without the bound 20,000 unread requests are 20,000 handlers in memory. Every
 * close after an answer lingers.
 */
export const limitsPlugin = fp<{limits: ServerLimits}>(
  async (app, {limits}) => {
    app.server.maxConnections = limits.maxConnections
    const queued = new WeakMap<Socket, number>()
    app.addHook('onRequest', async (req, reply) => {
      const socket = req.raw.socket
      const n = (queued.get(socket) ?? 0) + 1
      queued.set(socket, n)
      reply.raw.once('close', () => queued.set(socket, (queued.get(socket) ?? 1) - 1))
      if (n > limits.maxPipelinedRequests) {
        socket.pause()
        reply.header('connection', 'close')
        const waiting = `more than ${limits.maxPipelinedRequests} requests are waiting on this connection`
        throw new PlatformError('BAD_REQUEST', `${waiting}; read each answer before sending more`)
      }
    })
    // An answer sent before the body was read (a 413, a 401 on a POST) ends the connection, lingering,
    // so the client can finish writing and read the answer instead of a reset.
    app.addHook('onSend', async (req, reply) => {
      if (req.raw.complete === false || reply.getHeader('connection') === 'close') {
        reply.header('connection', 'close')
        lingerOnClose(req.raw.socket)
      }
    })
  },
  {name: 'platform-limits', fastify: '5.x'},
)
