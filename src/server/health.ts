import type {FastifyPluginAsync} from 'fastify'
import {PlatformError} from '../core/index.js'

export interface ReadyCheck {
  /** The dependency checked, named in the 503 body. */
  dependency: string
  check: () => Promise<void>
}

export interface HealthOptions {
  service: string
  version: string
  ready: ReadyCheck
}

/** GET /health/live (the process), /health/ready (its dependency) and /health (name and version); no key. */
export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
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
}
