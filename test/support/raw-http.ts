/** HTTP/1.1 over a bare TCP socket, for what a well-behaved client (undici, inject) never sends. */
import {connect, type Socket} from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** Splits the bytes a server sent into its responses (content-length framed, as both services answer). */
export function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = []
  let rest = raw
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return out
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n')
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
    const length = Number(headers['content-length'] ?? 0)
    out.push({status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length)})
    rest = rest.slice(end + 4 + length)
  }
}

export interface Exchange {
  responses: RawResponse[]
  /**
   * How the server ended the connection: 'end' (a FIN after the answers), 'reset'
   * (ECONNRESET/EPIPE) or 'open' (still open at the deadline).
   */
  closed: 'end' | 'reset' | 'open'
  error?: string
}

/** Opens a socket to port, waits until it is connected. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({host: '127.0.0.1', port}, () => resolve(s))
    s.once('error', reject)
  })
}

/**
 * Sends the bytes (each part written in turn, as a client that writes its whole request
 * before it reads) and collects what comes back until the server has closed the connection
 * and every part is written, or ms pass.
 */
export async function exchange(port: number, parts: Array<string | Buffer>, ms = 10_000): Promise<Exchange> {
  const s = await openSocket(port)
  const chunks: Buffer[] = []
  return new Promise((resolve) => {
    let settled = false
    let ended = false
    let written = false
    const finish = (closed: Exchange['closed'], error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      resolve({responses: parseResponses(Buffer.concat(chunks).toString('latin1')), closed, error})
    }
    const timer = setTimeout(() => finish('open'), ms)
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => {
      ended = true
      if (written) finish('end')
    })
    s.on('error', (e: NodeJS.ErrnoException) => finish('reset', e.code))
    s.on('close', () => finish(ended ? 'end' : 'reset'))
    void (async () => {
      for (const p of parts) {
        if (s.destroyed) return
        await new Promise<void>((r) => s.write(p, () => r()))
        await new Promise((r) => setImmediate(r))
      }
      written = true
      if (ended) finish('end')
    })()
  })
}
