/**
 * The per-request line is built as one template for speed (JSON.stringify only for a field
 * that needs escaping); it must be the line pino itself writes for the same fields (real
 * pino), and honour the level. Each test runs twice: into a plain destination, where the
 * line is made at once, and into the service log's buffer, which holds the fields and makes
 * the text when it is written out (its stream here captures what it is given).
 */
import type {FastifyBaseLogger} from 'fastify'
import {Writable} from 'node:stream'
import pino from 'pino'
import {describe, expect, it} from 'vitest'
import {LineBuffer, requestLineWriter, type RequestLine} from '../../src/observability/logging.js'

type Through = 'a plain destination' | 'the service log buffer'

function capturingThrough(through: Through, level: string) {
  const written: string[] = []
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      written.push(...chunk.toString().split(/(?<=\n)/))
      done()
    },
  })
  const buffer = through === 'the service log buffer' ? new LineBuffer(out) : undefined
  const destination = buffer ?? {write: (l: string) => void written.push(l)}
  const logger = pino({level, name: 'l09-api-gateway'}, destination) as unknown as FastifyBaseLogger
  return {
    logger,
    /** Every line so far, the buffer written out first. */
    lines(): string[] {
      buffer?.flush()
      return written
    },
    buffer,
  }
}

const withoutTime = (line: string) => line.replace(/"time":\d+,/, '')

describe.each<Through>(['a plain destination', 'the service log buffer'])('requestLineWriter, into %s', (through) => {
  const capturing = (level: string) => capturingThrough(through, level)

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
    // Surrogates paired and lone, DEL and a unit separator: each field escaped exactly as JSON.stringify escapes it.
    {reqId: 'id-\ud83d\ude00', method: 'GET', route: '/a\\b/:id', url: '/x/\ud800y\u007f\u001f\udc00', status: 400, ms: 12.3},
  ]

  it('writes the very line pino writes for the same fields, byte for byte but the time', () => {
    for (const line of samples) {
      const theirs = capturingThrough('a plain destination', 'info')
      theirs.logger.info(line, 'request')
      // Twice: the second line takes its method and route from those escaped for the first.
      for (let i = 0; i < 2; i++) {
        const ours = capturing('info')
        requestLineWriter(ours.logger)(line)
        expect(ours.lines()).toHaveLength(1)
        expect(withoutTime(ours.lines()[0]!)).toBe(withoutTime(theirs.lines()[0]!))
        expect(JSON.parse(ours.lines()[0]!).time).toBeGreaterThan(0)
      }
    }
  })

  it('gives each line the millisecond it was written in, not the one it was written out in', async () => {
    const ours = capturing('info')
    const write = requestLineWriter(ours.logger)
    const spans: Array<[number, number]> = []
    for (let i = 0; i < 3; i++) {
      const before = Date.now()
      write(samples[0]!)
      spans.push([before, Date.now()])
      await new Promise((r) => setTimeout(r, 5))
    }
    const times = ours.lines().map((l) => JSON.parse(l).time as number)
    expect(times).toHaveLength(3)
    for (const [i, [before, after]] of spans.entries()) {
      expect(times[i]).toBeGreaterThanOrEqual(before)
      expect(times[i]).toBeLessThanOrEqual(after)
    }
    expect(new Set(times).size).toBe(3)
  })

  it('escapes every text field as JSON.stringify does: quotes, backslashes, controls, surrogates, each alone', () => {
    let seed = 7 // mulberry32: seeded, so a failure can be replayed
    const next = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n) | 0
    }
    // Printable ASCII, and in most strings one character of one kind that may need escaping.
    const special = [
      () => (next(2) ? 0x22 : 0x5c), // quote, backslash
      () => next(0x20), // a control character
      () => 0xd800 + next(0x800), // a lone surrogate
      () => 0x7f + next(0xd800 - 0x7f), // DEL and the rest of the BMP below the surrogates
      () => 0xe000 + next(0x2000), // the BMP above them
    ]
    const text = (n: number) => {
      const units = Array.from({length: n}, () => 0x20 + next(0x5f)).filter((u) => u !== 0x22 && u !== 0x5c)
      const kind = next(special.length + 1)
      if (kind < special.length) units.splice(next(units.length + 1), 0, special[kind]!())
      return String.fromCharCode(...units)
    }
    const seen = {escaped: 0, plain: 0}
    const q = JSON.stringify
    for (let i = 0; i < 500; i++) {
      const line: RequestLine = {reqId: text(8), method: text(3), route: text(12), url: text(30), status: 200, ms: 1}
      const ours = capturing('info')
      requestLineWriter(ours.logger)(line)
      const expected =
        `{"level":30,"name":"l09-api-gateway","reqId":${q(line.reqId)},"method":${q(line.method)},"route":${q(line.route)},` +
        `"url":${q(line.url)},"status":200,"ms":1,"msg":"request"}\n`
      expect(withoutTime(ours.lines()[0]!).replace(/,"pid":\d+,"hostname":"[^"]*"/, '')).toBe(expected)
      for (const v of [line.reqId, line.method, line.route, line.url]) q(v) === `"${v}"` ? seen.plain++ : seen.escaped++
    }
    expect(seen.escaped).toBeGreaterThan(500) // both paths were taken
    expect(seen.plain).toBeGreaterThan(500)
  })

  it('writes nothing above info, and follows a level changed later', () => {
    const quiet = capturing('warn')
    const write = requestLineWriter(quiet.logger)
    write(samples[0]!)
    expect(quiet.lines()).toEqual([])
    ;(quiet.logger as unknown as {level: string}).level = 'info'
    write(samples[0]!)
    expect(quiet.lines()).toHaveLength(1)
  })

  it("keeps the order of request lines and the logger's other lines", () => {
    const ours = capturing('info')
    const write = requestLineWriter(ours.logger)
    for (let i = 0; i < 3; i++) {
      ours.logger.warn({i}, 'other')
      write({...samples[0]!, status: 200 + i})
    }
    const seen = ours.lines().map((l) => JSON.parse(l) as {msg: string; i?: number; status?: number})
    expect(seen.map((l) => (l.msg === 'other' ? `other ${l.i}` : `request ${l.status}`))).toEqual([
      'other 0',
      'request 200',
      'other 1',
      'request 201',
      'other 2',
      'request 202',
    ])
  })
})

it('requestLineWriter falls back to logger.info for a logger without a stream of its own', () => {
  const calls: unknown[][] = []
  const logger = {info: (...a: unknown[]) => void calls.push(a), level: 'info'} as unknown as FastifyBaseLogger
  const line = {reqId: 'r', method: 'GET', route: '/x', url: '/x', status: 200, ms: 1}
  requestLineWriter(logger)(line)
  expect(calls).toEqual([[line, 'request']])
})
