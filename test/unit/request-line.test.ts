/**
 * The per-request line is built as one template for speed; it must be the line pino itself
 * writes for the same fields (real pino, writing into a capturing stream), and honour the level.
 */
import type {FastifyBaseLogger} from 'fastify'
import pino from 'pino'
import {describe, expect, it} from 'vitest'
import {requestLineWriter, type RequestLine} from '../../src/observability/logging.js'

function capturing(level: string) {
  const lines: string[] = []
  const logger = pino({level, name: 'l09-api-gateway'}, {write: (l: string) => void lines.push(l)})
  return {logger: logger as unknown as FastifyBaseLogger, lines}
}

const withoutTime = (line: string) => line.replace(/"time":\d+,/, '')

describe('requestLineWriter', () => {
  const samples: RequestLine[] = [
    {
      reqId: 'f79812d6-7c10-4ab1-9fab-564083328765',
      method: 'GET',
      route: '/api/v1/agents/:id',
      url: '/api/v1/agents/x',
      status: 200,
      ms: 1.2,
    },
    {reqId: 'a"b\\c\nd', method: 'POST', route: 'unmatched', url: '/p?q=é&k=[REDACTED]\u0000\u2028', status: 404, ms: 0},
  ]

  it('writes the very line pino writes for the same fields, byte for byte but the time', () => {
    for (const line of samples) {
      const ours = capturing('info')
      requestLineWriter(ours.logger)(line)
      const theirs = capturing('info')
      theirs.logger.info(line, 'request')
      expect(ours.lines).toHaveLength(1)
      expect(withoutTime(ours.lines[0]!)).toBe(withoutTime(theirs.lines[0]!))
      expect(JSON.parse(ours.lines[0]!).time).toBeGreaterThan(0)
    }
  })

  it('writes nothing above info, and follows a level changed later', () => {
    const quiet = capturing('warn')
    const write = requestLineWriter(quiet.logger)
    write(samples[0]!)
    expect(quiet.lines).toEqual([])
    ;(quiet.logger as unknown as {level: string}).level = 'info'
    write(samples[0]!)
    expect(quiet.lines).toHaveLength(1)
  })

  it('falls back to logger.info for a logger without a stream of its own', () => {
    const calls: unknown[][] = []
    const logger = {info: (...a: unknown[]) => void calls.push(a), level: 'info'} as unknown as FastifyBaseLogger
    requestLineWriter(logger)(samples[0]!)
    expect(calls).toEqual([[samples[0], 'request']])
  })
})
