import type {FastifyError, FastifyReply, FastifyRequest} from 'fastify'
import fp from 'fastify-plugin'
import type {ErrorObject} from 'ajv'
import {PlatformError} from '../core/index.js'
import {formatValidation} from './validation.js'
import {BODY_LIMIT, MAX_PARAM_LENGTH} from './limits.js'

/** Any error a route, a hook or Fastify itself raised, as a catalogue error. */
export function toPlatformError(err: FastifyError & {validation?: ErrorObject[]; validationContext?: string}): PlatformError {
  if (err instanceof PlatformError) return err
  if (err.validation) return formatValidation(err.validation, err.validationContext ?? 'request')
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PlatformError('PAYLOAD_TOO_LARGE', `request body is over ${BODY_LIMIT} bytes`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PlatformError('UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json', {
        details: [{field: 'content-type', message: 'must be application/json'}],
      })
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

/** The router's own refusals skip the hooks and the error handler, so they are put in the one shape here. */
function routerError(err: FastifyError): PlatformError {
  const problems: Record<string, string> = {
    FST_ERR_BAD_URL: 'is not valid percent-encoding',
    FST_ERR_MAX_PARAM_LENGTH: `has a segment over ${MAX_PARAM_LENGTH} characters`,
  }
  const problem = problems[err.code]
  if (!problem) return toPlatformError(err)
  return new PlatformError('VALIDATION_FAILED', `the URL path ${problem}`, {details: [{field: 'path', message: problem}]})
}

/** Fastify's frameworkErrors option: given when the instance is made, since it is no hook. */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, res: unknown): void {
  const e = routerError(err)
  const reply = res as FastifyReply // the option's generic reply type refuses a plain status code
  reply.code(e.status).header('x-request-id', req.id).type('application/json').send(e.toBody())
}

/** The 404 in the one shape; a scope that guards its routes sets it again so an unknown route there is guarded too. */
export function notFound(req: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send({error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}`})
}

/** Every error and every unknown route answered as {error, message, details?}; a 500 is logged, never explained. */
export const errorsPlugin = fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const e = toPlatformError(err)
      if (e.code === 'INTERNAL') req.log.error({reqId: req.id, err}, 'unhandled error')
      reply.code(e.status).type('application/json').send(e.toBody())
    })
    app.setNotFoundHandler(notFound)
  },
  {name: 'platform-errors', fastify: '5.x'},
)
