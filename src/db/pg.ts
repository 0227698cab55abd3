import {Socket} from 'node:net'
import type {Pool, PoolClient} from 'pg'
import {PlatformError, isPlatformError, sha256} from '../core/index.js'
import {translateDbError} from './errors.js'
import {inTransaction} from './transaction.js'
import type {Db, Queryable, QueryResult} from './types.js'

const names = new Map<string, string>()
/** At most this many statements are kept prepared; others are parsed at each call, as before. */
const MAX_PREPARED = 256

/**
 * A name for the statement, so each connection parses and plans it once and then only binds
 * it: the platform's statements are a small, fixed set, and planning one costs PostgreSQL
 * about as much as running it.
 */
function statementName(sql: string): string | undefined {
  let name = names.get(sql)
  if (!name && names.size < MAX_PREPARED) {
    name = `platform_${sha256(sql).slice(0, 24)}`
    names.set(sql, name)
  }
  return name
}

function wrap(client: Pool | PoolClient, where: string): Queryable {
  return {
    async query<R>(sql: string, params: unknown[] = []): Promise<QueryResult<R>> {
      try {
        const r = await client.query({name: statementName(sql), text: sql, values: params})
        return {rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length}
      } catch (err) {
        throw translateDbError(err, where)
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql)
      } catch (err) {
        throw translateDbError(err, where)
      }
    },
  }
}

/** Describes a URL for people without its password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    const socket = u.searchParams.get('host')
    return socket
      ? `postgresql://${socket}${u.pathname} (socket, port ${u.searchParams.get('port') ?? 5432})`
      : `postgresql://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`
  } catch {
    return 'postgresql (unparsable DATABASE_URL)'
  }
}

/** host:port of a PostgreSQL URL; a string that is none is a configuration error. */
function hostPort(url: string): string {
  let u: URL | undefined
  try {
    u = new URL(url)
  } catch {
    // reported below
  }
  // ?host= names a Unix socket directory (it wins over the URL's host, as libpq has it).
  const host = u?.searchParams.get('host') || u?.hostname
  if (!u || !/^postgres(ql)?:$/.test(u.protocol) || !host) {
    throw new PlatformError('CONFIG_INVALID', 'DATABASE_URL is not a PostgreSQL URL', {
      suggestion: 'give it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or unset it for the embedded database)',
    })
  }
  return `${host}:${u.searchParams.get('port') || u.port || 5432}`
}

/**
 * A socket that sends what one tick writes in one system call. pg writes each message of a
 * query (parse, bind, describe, execute, sync) on its own, and each socket write is a system
 * call: corked until the next tick, they leave together as one writev.
 */
export function batchingSocket(): Socket {
  const socket = new Socket()
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
  let corked = false
  const batched = ((...args: unknown[]) => {
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(() => {
        corked = false
        socket.uncork()
      })
    }
    return write(...args)
  }) as Socket['write']
  // connect() puts back Socket.prototype.write (it undoes a closed socket's write guard).
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => Socket
  socket.connect = ((...args: unknown[]) => {
    connect(...args)
    socket.write = batched
    return socket
  }) as Socket['connect']
  return socket
}

export async function openPg(url: string, poolSize = 10): Promise<Db> {
  const where = hostPort(url)
  const {default: pg} = await import('pg')
  // Short connect timeout and a statement ceiling: a database that went away must
  // surface as DATABASE_UNAVAILABLE, never as a request that hangs.
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 10_000,
    query_timeout: 30_000,
    stream: batchingSocket,
  })
  pool.on('error', () => {}) // an idle client lost its server; the next query reports it
  const q = wrap(pool, where)

  async function withClient<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient
    try {
      client = await pool.connect()
    } catch (err) {
      throw translateDbError(err, where)
    }
    try {
      const result = await fn(wrap(client, where))
      client.release()
      return result
    } catch (err) {
      // Keep the connection after a clean refusal (a rolled-back conflict, say); drop it
      // when it may hold state behind or has lost its server.
      const clean = isPlatformError(err) && err.code !== 'DATABASE_UNAVAILABLE' && err.code !== 'INTERNAL'
      client.release(clean ? false : (err as Error))
      throw err
    }
  }

  return {
    kind: 'pg',
    location: describeUrl(url),
    query: q.query,
    exec: q.exec,
    transaction: (fn) => withClient((conn) => inTransaction(conn, fn)),
    session: withClient,
    close: () => pool.end(),
  }
}
