import type {FastifyInstance} from 'fastify'
import {Ajv, type ErrorObject} from 'ajv'
import addFormatsModule from 'ajv-formats'
import {PlatformError, type ErrorDetail} from '../core/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the JSON body's text, for a proxy that forwards it as it came */
    rawJson?: string
  }
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

/**
 * What a request's parts must be: bodies are JSON only, validated strictly and checked for
 * what PostgreSQL cannot store; query strings and path params are coerced from text.
 */
export function requestParts(app: FastifyInstance): void {
  const {strict, coercing} = validators()
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
  app.addHook('preValidation', async (req) => {
    const bad = findUnstorable(req.body)
    if (bad) throw new PlatformError('VALIDATION_FAILED', `${bad.field} ${bad.message}`, {details: [bad]})
  })
}
