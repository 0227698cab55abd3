/**
 * The service log's buffer, on real files: lines come out whole and in order, on a timer
 * and at the end, and a destination that stops taking them costs bounded memory. The stalled
 * destination is a unit-test double (a Writable that never finishes a write): a real one
 * would be a pipe nobody reads.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Writable} from 'node:stream'
import pino from 'pino'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {LineBuffer, serviceLog} from '../../src/observability/logging.js'

const dirs: string[] = []
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'service-log-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
  vi.restoreAllMocks()
})

const loggerOf = (log: ReturnType<typeof serviceLog>) => {
  if (!log.logger) throw new Error('the service log is off')
  return pino({level: log.logger.level, name: 'l01-data-layer'}, log.logger.stream)
}

describe('serviceLog', () => {
  it('appends whole lines, in order, to a file it creates (directories too), all of them by flush()', async () => {
    const file = join(temp(), 'nested', 'platform.log')
    const log = serviceLog({level: 'info', file})
    const logger = loggerOf(log)
    // More than one 64 KiB chunk, so some are written before the end.
    for (let i = 0; i < 2000; i++) logger.info({i, pad: 'x'.repeat(60)}, 'line')
    await log.flush()
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(2000)
    expect(lines.map((l) => (JSON.parse(l) as {i: number}).i)).toEqual([...Array(2000).keys()])
  })

  it('writes a quiet service’s lines out by itself, without waiting for more', async () => {
    const file = join(temp(), 'platform.log')
    const log = serviceLog({level: 'info', file})
    loggerOf(log).info('only one')
    await vi.waitFor(() => expect(readFileSync(file, 'utf8')).toContain('"msg":"only one"'), {timeout: 5000, interval: 50})
    await log.flush()
  })

  it('appends to what the file held, and honours the level', async () => {
    const file = join(temp(), 'platform.log')
    for (const n of [1, 2]) {
      const log = serviceLog({level: 'warn', file})
      const logger = loggerOf(log)
      logger.info('not at warn')
      logger.warn(`run ${n}`)
      await log.flush()
    }
    expect(readFileSync(file, 'utf8').match(/"msg":"[^"]*"/g)).toEqual(['"msg":"run 1"', '"msg":"run 2"'])
  })

  it('is off at level silent or with no target', () => {
    expect(serviceLog({level: 'silent'}).logger).toBe(false)
    expect(serviceLog(undefined).logger).toBe(false)
  })

  it('a file it cannot write is said once on stderr and does not throw', async () => {
    const dir = temp()
    const said: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => said.push(String(s)) > 0)
    const log = serviceLog({level: 'info', file: dir}) // a directory: open fails with EISDIR
    const logger = loggerOf(log)
    logger.info('lost')
    await vi.waitFor(() => expect(said.join('')).toMatch(/cannot be written \(EISDIR/), {timeout: 5000, interval: 20})
    logger.info('also lost')
    await log.flush()
    expect(said.filter((s) => s.includes('cannot be written'))).toHaveLength(1)
  })
})

describe('LineBuffer', () => {
  it('drops and counts lines while its destination holds 16 MiB unwritten, then says how many', async () => {
    let finish: (() => void) | undefined
    const chunks: string[] = []
    // Takes the first chunk and never finishes writing it until told to.
    const stalled = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString())
        finish = done
      },
    })
    const buffer = new LineBuffer(stalled)
    const line = `${'y'.repeat(1023)}\n`
    let refused = 0
    for (let i = 0; i < 20 * 1024; i++) if (!buffer.write(line)) refused++
    // 20 MiB offered; what passed the bound is held (at most 16 MiB and one chunk), the rest refused.
    expect(refused).toBeGreaterThan(3 * 1024)
    expect(stalled.writableLength).toBeLessThanOrEqual(16 * 1024 * 1024 + 64 * 1024 + 1024)
    // The destination catches up: every write completes from now on.
    const drain = () => {
      while (finish) {
        const f = finish
        finish = undefined
        f()
      }
    }
    stalled._write = (chunk: Buffer, _enc, done) => {
      chunks.push(chunk.toString())
      done()
    }
    drain()
    await buffer.end(true)
    const text = chunks.join('')
    expect(text).toContain(`"msg":"${refused} log lines were dropped: the log's destination did not keep up"`)
    expect(text.split('\n').filter((l) => l.startsWith('y'))).toHaveLength(20 * 1024 - refused)
  })
})
