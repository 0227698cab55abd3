import {createHash, timingSafeEqual} from 'node:crypto'
import Fastify, {LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions} from 'fastify'
import {Ajv, type ErrorObject} from 'ajv'
import addFormatsModule from 'ajv-formats'
import {DEFAULT_SERVER_LIMITS, PlatformError, type ErrorDetail, type ServerLimits} from '../core/index.js'
import {isSecretName, observeHttp, redactUrl, type MetricsRegistry} from '../observability/index.js'
import {clientErrorHandler, requestId} from './connection.js'
import {limitOptions, limitsPlugin} from './limits.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the JSON body's text, for a proxy that forwards it as it came */
    rawJson?: string
  }
}

/** Bodies over this are refused with 413 before they are parsed. */
export const BODY_LIMIT = 1024 * 1024

export interface ReadyCheck {
  /** The dependency checked, named in the 503 body. */
  dependency: string
  check: () => Promise<void>
}

export interface ServerOptions {
  service: string
  version: string
  /** Pino options for the one-line-per-request log; false for none (tests). */
  logger?: FastifyServerOptions['logger']
  metrics: MetricsRegistry
  ready: ReadyCheck
  /** Keys accepted on every route but health and metrics; empty means no auth. */
  apiKeys: readonly string[]
  /** Timeouts and connection bounds; the defaults when not given. */
  limits?: ServerLimits
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

/**
 * The request parts' validators: bodies are never coerced (a string "5" is not a
 * number), while query strings and path params are, since they arrive as text.
 */
function validators() {
  const make = (coerceTypes: boolean) => addFormats(new Ajv({coerceTypes, useDefaults: true, allErrors: true, removeAdditional: false, strict: false}))
  return {strict: make(false), coercing: make(true)}
}

export function formatValidation(errors: ErrorObject[], part: string): PlatformError {
  const details: ErrorDetail[] = errors.map((e) => {
    const path = e.instancePath.replace(/^\//, '').replaceAll('/', '.')
    if (e.keyword === 'required') {
      const field = path ? `${path}.${e.params.missingProperty}` : String(e.params.missingProperty)
      return {field, message: 'is required'}
    }
    const field = path || part
    if (e.keyword === 'enum') {
      const allowed = (e.params.allowedValues as unknown[]).map(String)
      return {field, message: `must be one of: ${allowed.join(', ')}`, allowed}
    }
    if (e.keyword === 'format') return {field, message: e.params.format === 'uuid' ? 'must be a UUID' : `must be a ${e.params.format}`}
    return {field, message: e.message ?? 'is invalid'}
  })
  const first = details[0]!
  return new PlatformError('VALIDATION_FAILED', `${first.field} ${first.message}`, {details})
}

/** JSON nested deeper than this is refused: walking it (here, in JSON.stringify) would overflow the stack. */
export const MAX_DEPTH = 64

/**
 * The first part of a parsed body that cannot be stored: a string (or key) holding a NUL
 * byte, which PostgreSQL refuses, or nesting deeper than MAX_DEPTH.
 */
export function findUnstorable(value: unknown, path = '', depth = 0): ErrorDetail | undefined {
  const nul = (field: string): ErrorDetail => ({field, message: 'must not contain NUL (\\u0000)'})
  if (typeof value === 'string') return value.includes('\u0000') ? nul(path || 'body') : undefined
  if (value === null || typeof value !== 'object') return undefined
  if (depth >= MAX_DEPTH) return {field: path || 'body', message: `is nested deeper than ${MAX_DEPTH} levels`}
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k
    if (k.includes('\u0000')) return nul(p)
    const hit = findUnstorable(v, p, depth + 1)
    if (hit) return hit
  }
  return undefined
}

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * A constant-time key check: the presented key's digest is compared with every configured
 * key's digest (computed once), whichever matches, so timing tells nothing about the keys.
 */
export function keyMatcher(keys: readonly string[]): (given: string) => boolean {
  const digests = keys.map(digest)
  return (given) => {
    const g = digest(given)
    let ok = false
    for (const d of digests) ok = timingSafeEqual(g, d) || ok
    return ok
  }
}

export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key']
  if (typeof header === 'string' && header) return header
  const auth = req.headers.authorization
  const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null
  return m?.[1]
}

function toPlatformError(err: FastifyError & {validation?: ErrorObject[]; validationContext?: string}): PlatformError {
  if (err instanceof PlatformError) return err
  if (err.validation) return formatValidation(err.validation, err.validationContext ?? 'request')
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PlatformError('PAYLOAD_TOO_LARGE', `request body is over ${BODY_LIMIT} bytes`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PlatformError('UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json', {details: [{field: 'content-type', message: 'must be application/json'}]})
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new PlatformError('VALIDATION_FAILED', 'body must be a JSON object', {details: [{field: 'body', message: 'is empty'}]})
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new PlatformError('VALIDATION_FAILED', 'body is not valid JSON', {details: [{field: 'body', message: 'malformed JSON'}]})
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/.test(err.message))) {
    return new PlatformError('VALIDATION_FAILED', 'body is not valid JSON', {details: [{field: 'body', message: 'malformed JSON'}]})
  }
  if (err.statusCode === 413) return new PlatformError('PAYLOAD_TOO_LARGE', `request body is over ${BODY_LIMIT} bytes`)
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new PlatformError('VALIDATION_FAILED', err.message)
  }
  return new PlatformError('INTERNAL', 'internal error', {cause: err})
}

/** A key is up to 255 characters (510 UTF-16 units); the router's default of 100 would refuse long ones. */
const MAX_PARAM_LENGTH = 1024

/** The router's own refusals skip the hooks and the error handler, so they are put in the one shape here. */
function routerError(err: FastifyError): PlatformError {
  const problem = err.code === 'FST_ERR_BAD_URL' ? 'is not valid percent-encoding' : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `has a segment over ${MAX_PARAM_LENGTH} characters` : undefined
  return problem ? new PlatformError('VALIDATION_FAILED', `the URL path ${problem}`, {details: [{field: 'path', message: problem}]}) : toPlatformError(err)
}

/** A request as a log line shows it: a secret in the query string is redacted (keys in headers are never logged). */
const logRequest = (req: {method: string; url: string; id?: string}) => ({method: req.method, url: redactUrl(req.url), id: req.id})

/** A key sent as a query parameter ends up in logs and proxies' histories; it is refused, not used. */
function queryKeyRefusal(query: unknown): PlatformError | undefined {
  const name = Object.keys((query ?? {}) as object).find(isSecretName)
  if (name === undefined) return undefined
  return new PlatformError('UNAUTHORIZED', `an API key must not be sent in the query string (${name}); send it in the X-API-Key header`, {
    details: [{field: `query.${name}`, message: 'is refused: send the key in the X-API-Key header (or Authorization: Bearer)'}],
  })
}

const OPEN_ROUTES = /^\/(health(\/|$)|metrics$)/

/**
 * A Fastify instance with what both services share: request ids, the one error shape,
 * strict body validation, the NUL guard, the 1 MiB limit, key auth, metrics and health.
 * Routes are added by the caller; nothing listens until the caller says so.
 */
export function createServer(opts: ServerOptions): FastifyInstance {
  const {strict, coercing} = validators()
  const matches = keyMatcher(opts.apiKeys)
  const limits = opts.limits ?? DEFAULT_SERVER_LIMITS
  const app = Fastify({
    // Every log line names its service: L01 and L09 may share one log file.
    logger: opts.logger ? {...(opts.logger === true ? {} : opts.logger), name: opts.service, serializers: {req: logRequest}} : false,
    // Fastify's two lines per request are replaced by one of ours (observeHttp).
    logController: new LogController({disableRequestLogging: true}),
    bodyLimit: BODY_LIMIT,
    routerOptions: {ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH},
    frameworkErrors: (err, req, res) => {
      const e = routerError(err)
      const reply = res as FastifyReply // the option's generic reply type refuses a plain status code
      reply.code(e.status).header('x-request-id', req.id).type('application/json').send(e.toBody())
    },
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    clientErrorHandler: clientErrorHandler(limits),
    ...limitOptions(limits),
  })
  // Only JSON is accepted: drop Fastify's text/plain parser so other types get 415.
  app.removeContentTypeParser('text/plain')
  // An empty body is no body, whatever the content-type says: clients (the load scenario,
  // Locust) send content-type: application/json on a DELETE too. Schemas still refuse a
  // missing body where one is required.
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'string'}, (req, body, done) => {
    if (body === '') return done(null, undefined)
    req.rawJson = body as string
    json(req, body as string, done)
  })
  app.setValidatorCompiler(({schema, httpPart}) => (httpPart === 'body' ? strict : coercing).compile(schema))

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
    if (!req.headers.host && req.raw.httpVersion === '1.1') {
      reply.header('connection', 'close')
      throw new PlatformError('BAD_REQUEST', 'malformed HTTP request: the Host header is required in HTTP/1.1')
    }
    if (opts.apiKeys.length === 0 || OPEN_ROUTES.test(req.routeOptions.url ?? '')) return
    const leaked = queryKeyRefusal(req.query)
    if (leaked) throw leaked
    const key = presentedKey(req)
    if (!key || !matches(key)) {
      throw new PlatformError('UNAUTHORIZED', key ? 'the API key is not valid' : 'an API key is required (X-API-Key or Authorization: Bearer)')
    }
  })
  app.register(limitsPlugin, {limits})
  app.addHook('preValidation', async (req) => {
    const bad = findUnstorable(req.body)
    if (bad) throw new PlatformError('VALIDATION_FAILED', `${bad.field} ${bad.message}`, {details: [bad]})
  })
  observeHttp(app, opts.metrics)

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toPlatformError(err)
    if (e.code === 'INTERNAL') req.log.error({err}, 'unhandled error')
    reply.code(e.status).type('application/json').send(e.toBody())
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}`})
  })

  app.get('/health/live', async () => ({status: 'ok'}))
  app.get('/health', async () => ({service: opts.service, version: opts.version, status: 'ok'}))
  app.get('/health/ready', async (_req, reply) => {
    try {
      await opts.ready.check()
      return {status: 'ready', dependencies: {[opts.ready.dependency]: 'ok'}}
    } catch (err) {
      const code = err instanceof PlatformError && err.status === 503 ? err.code : 'UPSTREAM_UNAVAILABLE'
      return reply.code(503).send({
        error: code,
        message: `${opts.ready.dependency} is not ready: ${(err as Error).message}`,
        details: [{field: opts.ready.dependency, message: (err as Error).message}],
      })
    }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.type(opts.metrics.contentType)
    return opts.metrics.render()
  })
  return app
}
