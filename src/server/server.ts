import Fastify, {LogController, type FastifyInstance, type FastifyServerOptions} from 'fastify'
import {DEFAULT_SERVER_LIMITS, PlatformError, type ServerLimits} from '../core/index.js'
import {metricsPlugin, redactUrl, type MetricsRegistry} from '../observability/index.js'
import {clientErrorHandler, requestId} from './connection.js'
import {errorsPlugin, frameworkErrors} from './errors.js'
import {healthPlugin, type ReadyCheck} from './health.js'
import {BODY_LIMIT, MAX_PARAM_LENGTH, limitOptions, limitsPlugin} from './limits.js'
import {addJsonParser, checkRequest, validatorCompiler} from './validation.js'

export interface ServerOptions {
  service: string
  version: string
  /** Pino options for the one-line-per-request log; false for none (tests). */
  logger?: FastifyServerOptions['logger']
  metrics: MetricsRegistry
  ready: ReadyCheck
  /** Timeouts and connection bounds; the defaults when not given. */
  limits?: ServerLimits
}

/** A request as a log line shows it: a secret in the query string is redacted (keys in headers are never logged). */
const logRequest = (req: {method: string; url: string; id?: string}) => ({method: req.method, url: redactUrl(req.url), id: req.id})

/**
 * A Fastify instance with what both services share: request ids, the one error shape,
 * strict body validation, the NUL guard, the 1 MiB limit, connection limits, metrics and
 * health. Routes (and the auth plugin in their scope) are added by the caller; nothing
 * listens until the caller says so.
 */
export function createServer(opts: ServerOptions): FastifyInstance {
  const limits = opts.limits ?? DEFAULT_SERVER_LIMITS
  const app = Fastify({
    // Every log line names its service: L01 and L09 may share one log file.
    logger: opts.logger ? {...(opts.logger === true ? {} : opts.logger), name: opts.service, serializers: {req: logRequest}} : false,
    // Fastify's two lines per request are replaced by one of ours (the metrics plugin's).
    logController: new LogController({disableRequestLogging: true}),
    // No child logger per request (Fastify's default costs a pino child each time): the
    // lines that need the request id carry it themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: BODY_LIMIT,
    routerOptions: {ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH},
    frameworkErrors,
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    clientErrorHandler: clientErrorHandler(limits),
    ...limitOptions(limits),
  })
  // Only JSON is accepted: drop Fastify's text/plain parser so other types get 415.
  app.removeContentTypeParser('text/plain')
  addJsonParser(app)
  app.setValidatorCompiler(validatorCompiler())
  app.addHook('preValidation', async (req) => checkRequest(req))
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
    if (!req.headers.host && req.raw.httpVersion === '1.1') {
      reply.header('connection', 'close')
      throw new PlatformError('BAD_REQUEST', 'malformed HTTP request: the Host header is required in HTTP/1.1')
    }
  })
  app.register(errorsPlugin)
  app.register(limitsPlugin, {limits})
  app.register(metricsPlugin, {metrics: opts.metrics})
  app.register(healthPlugin, {service: opts.service, version: opts.version, ready: opts.ready})
  return app
}
