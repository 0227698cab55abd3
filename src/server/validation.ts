import type {FastifyInstance, FastifyRequest} from 'fastify'
import {Ajv, type ErrorObject, type ValidateFunction} from 'ajv'
import addFormatsModule from 'ajv-formats'
import {PlatformError, type ErrorDetail} from '../core/index.js'

/**
 * What the services accept, made to agree with what PostgreSQL and JSON keep: a value is
 * refused with a 400 naming its field, never stored changed.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** the JSON body's text, for a proxy that forwards it as it came */
    rawJson?: string
  }
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv
/** 8-4-4-4-12 hex only: ajv-formats also takes a `urn:uuid:` prefix, which PostgreSQL refuses. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const DIGITS = /^[0-9]+$/

const refuse = (detail: ErrorDetail) => new PlatformError('VALIDATION_FAILED', `${detail.field} ${detail.message}`, {details: [detail]})

type Validate = ((data: unknown) => boolean) & {errors?: ErrorObject[] | null}

/**
 * Query strings and path params arrive as text and are coerced; ajv would also read `0x10`,
 * `1e2`, ` 5` and `+5` as integers, so integer properties must be plain decimal digits first.
 */
function digitsFirst(schema: {properties?: Record<string, {type?: unknown}>}, validate: ValidateFunction): Validate {
  const integers = Object.entries(schema.properties ?? {})
    .filter(([, s]) => s.type === 'integer')
    .map(([k]) => k)
  if (integers.length === 0) return validate
  const check = (data: unknown): boolean => {
    const given = (data ?? {}) as Record<string, unknown>
    const bad = integers.find((k) => given[k] !== undefined && !(typeof given[k] === 'string' && DIGITS.test(given[k])))
    if (bad !== undefined) {
      check.errors = [{instancePath: `/${bad}`, keyword: 'digits', params: {}, schemaPath: '', message: 'must be decimal digits (0-9)'}]
      return false
    }
    const ok = validate(data)
    check.errors = validate.errors
    return ok
  }
  check.errors = null as ErrorObject[] | null | undefined
  return check
}

/**
 * The request parts' validators: bodies are never coerced (a string "5" is not a number),
 * while query strings and path params are, since they arrive as text.
 */
export function validatorCompiler(): (route: {schema: object; httpPart?: string}) => Validate {
  const make = (coerceTypes: boolean) => {
    const ajv = addFormats(new Ajv({coerceTypes, useDefaults: true, allErrors: true, removeAdditional: false, strict: false}))
    return ajv.addFormat('uuid', UUID)
  }
  const strict = make(false)
  const coercing = make(true)
  return ({schema, httpPart}) => (httpPart === 'body' ? strict.compile(schema) : digitsFirst(schema, coercing.compile(schema)))
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
    if (e.keyword === 'format') {
      return {field, message: e.params.format === 'uuid' ? 'must be a UUID (8-4-4-4-12 hex digits)' : `must be a ${e.params.format}`}
    }
    return {field, message: e.message ?? 'is invalid'}
  })
  const first = details[0]!
  return new PlatformError('VALIDATION_FAILED', `${first.field} ${first.message}`, {details})
}

/** JSON nested deeper than this is refused: walking it (here, in JSON.stringify) would overflow the stack. */
export const MAX_DEPTH = 64

/** A NUL (PostgreSQL's text cannot hold it) or a UTF-16 surrogate without its pair (not a character; UTF-8 has no form for it). */
const UNSTORABLE_CHAR = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Why a string cannot be stored as it is, if it cannot. */
function badText(s: string): string | undefined {
  const m = UNSTORABLE_CHAR.exec(s)
  if (!m) return undefined
  return m[0] === '\u0000' ? 'must not contain NUL (\\u0000)' : `must not contain a lone surrogate (\\u${m[0].charCodeAt(0).toString(16)})`
}

/**
 * The first part of a parsed body that cannot be stored: a string (or key) holding a NUL
 * or a lone surrogate, or nesting deeper than MAX_DEPTH.
 */
export function findUnstorable(value: unknown, path = '', depth = 0): ErrorDetail | undefined {
  if (typeof value === 'string') {
    const problem = badText(value)
    return problem ? {field: path || 'body', message: problem} : undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  if (depth >= MAX_DEPTH) return {field: path || 'body', message: `is nested deeper than ${MAX_DEPTH} levels`}
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k
    const problem = badText(k)
    if (problem) return {field: p, message: problem}
    const hit = findUnstorable(v, p, depth + 1)
    if (hit) return hit
  }
  return undefined
}

/** A number as sign, significant digits and a power of ten (zero is ''), to compare values exactly. */
function decimal(token: string): {neg: boolean; digits: string; exp: number} {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(token)!
  const all = (m[2]! + (m[3] ?? '')).replace(/^0+/, '')
  const digits = all.replace(/0+$/, '')
  if (!digits) return {neg: false, digits: '', exp: 0}
  return {neg: m[1] === '-', digits, exp: Number(m[4] ?? 0) - (m[3]?.length ?? 0) + all.length - digits.length}
}

const TWO_53 = 2n ** 53n

/**
 * Why a JSON number token would not come back as sent, if it would not. JSON.parse reads it
 * into a 64-bit float; what is stored (and answered) is that float's shortest form.
 */
function inexact(token: string): string | undefined {
  const n = Number(token)
  if (!Number.isFinite(n)) return 'is a number too large to keep (it would become Infinity)'
  if (Object.is(n, -0) && decimal(token).digits === '') return 'is -0, which JSON and JSONB keep as 0'
  const d = decimal(token)
  if (d.exp >= 0 && d.digits && BigInt(d.digits) * 10n ** BigInt(d.exp) > TWO_53) {
    return 'is an integer beyond ±2^53, which a JSON number cannot keep exactly; send it as a string'
  }
  const kept = decimal(String(n))
  if (kept.neg !== d.neg || kept.digits !== d.digits || kept.exp !== d.exp) {
    return `has more precision than a JSON number keeps (it would become ${String(n)}); send it as a string`
  }
  return undefined
}

/** Only texts with an exponent, a long run of digits or a -0 can hold such a number; others are not scanned. */
const SUSPECT = /\d[eE]|[\d.]{16}|-0/
const WS = /[ \t\n\r]*/y
const STRING = /"(?:[^"\\]|\\.)*"/y
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const LITERAL = /true|false|null/y

/**
 * The first number in a JSON text (already parsed, so well-formed) that JSON.parse did not
 * read exactly: non-finite, -0, an integer beyond ±2^53, or more digits than a float keeps.
 * It reads the text because the parsed value has already lost what it would report.
 */
export function findInexactNumber(text: string): ErrorDetail | undefined {
  if (!SUSPECT.test(text)) return undefined
  let i = 0
  const take = (re: RegExp): string => {
    re.lastIndex = i
    const m = re.exec(text)![0]
    i += m.length
    return m
  }
  const value = (path: string): ErrorDetail | undefined => {
    take(WS)
    const c = text[i]
    if (c === '{' || c === '[') {
      i++
      for (let index = 0; ; index++) {
        take(WS)
        if (text[i] === '}' || text[i] === ']') return void i++
        if (text[i] === ',') i++
        let key = String(index)
        if (c === '{') {
          take(WS)
          key = JSON.parse(take(STRING)) as string
          take(WS)
          i++ // the colon
        }
        const hit = value(path ? `${path}.${key}` : key)
        if (hit) return hit
      }
    }
    if (c === '"') return void take(STRING)
    if (c === 't' || c === 'f' || c === 'n') return void take(LITERAL)
    const problem = inexact(take(NUMBER))
    return problem ? {field: path || 'body', message: problem} : undefined
  }
  return value('')
}

/** Query parameters as sent: a name and its value, both percent-decoded, or the name and why the value cannot be. */
function* queryParams(url: string): Generator<{name: string; value?: string; error?: string}> {
  const q = url.indexOf('?')
  if (q < 0) return
  for (const part of url.slice(q + 1).split('&')) {
    if (!part) continue
    const eq = part.indexOf('=')
    const [rawName, rawValue] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]
    const decode = (s: string) => decodeURIComponent(s.replaceAll('+', ' '))
    let name = rawName
    try {
      name = decode(rawName)
      yield {name, value: decode(rawValue)}
    } catch {
      yield {name, error: 'is not valid percent-encoded UTF-8'}
    }
  }
}

/**
 * Everything of a request that cannot be stored as it came: the body (NUL, lone surrogates,
 * depth, inexact numbers), the path params and the query (NUL, malformed percent-encoding).
 * Run before schema validation, so the refusal names the field whatever the route.
 */
export function checkRequest(req: FastifyRequest): void {
  const bad = findUnstorable(req.body) ?? (req.rawJson === undefined ? undefined : findInexactNumber(req.rawJson))
  if (bad) throw refuse(bad)
  for (const [name, value] of Object.entries((req.params ?? {}) as Record<string, unknown>)) {
    const problem = typeof value === 'string' ? badText(value) : undefined
    if (problem) throw refuse({field: name, message: problem})
  }
  for (const p of queryParams(req.url)) {
    const problem = p.error ?? badText(p.name) ?? badText(p.value ?? '')
    if (problem) throw refuse({field: p.name.replaceAll('\u0000', '\\u0000') || 'query', message: problem})
  }
}

const UTF8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

/**
 * The application/json parser: UTF-8 without a BOM, decoded strictly (an invalid byte
 * sequence is refused, not replaced with U+FFFD). An empty body is no body, whatever the
 * content-type says: clients (the load scenario, Locust) send content-type: application/json
 * on a DELETE too; schemas still refuse a missing body where one is required.
 */
export function addJsonParser(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', {parseAs: 'buffer'}, (req, body, done) => {
    const bytes = body as Buffer
    if (bytes.length === 0) return done(null, undefined)
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      return done(refuse({field: 'body', message: 'starts with a byte order mark (BOM); send UTF-8 without one'}))
    }
    let text: string
    try {
      text = UTF8.decode(bytes)
    } catch {
      return done(refuse({field: 'body', message: 'is not valid UTF-8'}))
    }
    req.rawJson = text
    json(req, text, done)
  })
}
