import {createHash, timingSafeEqual} from 'node:crypto'
import type {FastifyRequest} from 'fastify'
import fp from 'fastify-plugin'
import {PlatformError} from '../core/index.js'
import {isSecretName} from '../observability/index.js'

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

/** A key sent as a query parameter ends up in logs and proxies' histories; it is refused, not used. */
function queryKeyRefusal(query: unknown): PlatformError | undefined {
  const name = Object.keys((query ?? {}) as object).find(isSecretName)
  if (name === undefined) return undefined
  return new PlatformError('UNAUTHORIZED', `an API key must not be sent in the query string (${name}); send it in the X-API-Key header`, {
    details: [{field: `query.${name}`, message: 'is refused: send the key in the X-API-Key header (or Authorization: Bearer)'}],
  })
}

export interface AuthOptions {
  /** The keys accepted; none means no check (tests only: a served process always has one). */
  keys: readonly string[]
}

/**
 * Key auth for the scope it is registered in, and only that scope: the routes it protects
 * are registered beside it, while health and metrics live outside it.
 */
export const authPlugin = fp<AuthOptions>(
  async (app, {keys}) => {
    if (keys.length === 0) return
    const matches = keyMatcher(keys)
    app.addHook('onRequest', async (req) => {
      const leaked = queryKeyRefusal(req.query)
      if (leaked) throw leaked
      const key = presentedKey(req)
      if (!key || !matches(key)) {
        const problem = key ? 'the API key is not valid' : 'an API key is required (X-API-Key or Authorization: Bearer)'
        throw new PlatformError('UNAUTHORIZED', problem)
      }
    })
  },
  {name: 'platform-auth', fastify: '5.x'},
)
