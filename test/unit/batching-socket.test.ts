/**
 * The socket pg talks through gathers one tick's writes and sends them together on the next
 * (a real socket to a real local server; the db tier runs every PostgreSQL test through it).
 */
import {createServer, type AddressInfo} from 'node:net'
import {describe, expect, it} from 'vitest'
import {batchingSocket} from '../../src/db/pg.js'

describe('batchingSocket', () => {
  it('holds the writes of one tick, sends them all on the next, in order, and then writes again', async () => {
    const received: Buffer[] = []
    const server = createServer((s) => s.on('data', (d) => received.push(d)))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const socket = batchingSocket()
    await new Promise<void>((r) => socket.connect((server.address() as AddressInfo).port, '127.0.0.1', r))
    try {
      const parts = ['parse;', 'bind;', 'describe;', 'execute;', 'sync;']
      for (const p of parts) socket.write(p)
      // Corked: nothing has left yet, all five wait in the socket.
      expect(socket.writableLength).toBe(parts.join('').length)
      await new Promise((r) => process.nextTick(r))
      await new Promise((r) => setImmediate(r))
      expect(socket.writableLength).toBe(0)
      socket.write('next;')
      await new Promise((r) => setTimeout(r, 50))
      expect(Buffer.concat(received).toString()).toBe(`${parts.join('')}next;`)
    } finally {
      socket.destroy()
      await new Promise((r) => server.close(r))
    }
  })
})
