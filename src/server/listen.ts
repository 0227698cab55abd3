import type {FastifyInstance} from 'fastify'
import {PlatformError, portHolder} from '../core/index.js'

/** Starts listening; a port already taken becomes PORT_IN_USE naming the port. Returns the base URL. */
export async function listen(app: FastifyInstance, addr: {host: string; port: number}, what: string): Promise<string> {
  try {
    await app.listen({host: addr.host, port: addr.port})
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') {
      throw portInUse(what, addr)
    }
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new PlatformError('PORT_IN_USE', `${what} cannot listen on ${addr.host}:${addr.port} (${code})`, {
        suggestion: 'choose another host or port',
      })
    }
    throw err
  }
  const a = app.server.address()
  const port = typeof a === 'object' && a ? a.port : addr.port
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host
  return `http://${host}:${port}`
}

export function portInUse(what: string, addr: {host: string; port: number}): PlatformError {
  const holder = portHolder(addr.port)
  return new PlatformError(
    'PORT_IN_USE',
    `${what} cannot listen on ${addr.host}:${addr.port}: the port is in use${holder ? ` by ${holder}` : ''}`,
    {
      suggestion: `stop what holds port ${addr.port}, or choose another port (flag, platform.yaml or environment)`,
    },
  )
}
