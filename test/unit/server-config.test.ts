import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {DEFAULT_SERVER_LIMITS, isPlatformError, loadConfig} from '../../src/core/index.js'

describe('platform.yaml server:', () => {
  let dir: string | undefined
  afterEach(() => dir && rmSync(dir, {recursive: true, force: true}))
  const withYaml = (text: string) => {
    dir = mkdtempSync(join(tmpdir(), 'platform-server-'))
    writeFileSync(join(dir, 'platform.yaml'), text)
    return () => loadConfig({cwd: dir, env: {}})
  }

  it('defaults to a 10 s headers timeout and a 30 s request timeout', () => {
    expect(withYaml('mode: embedded\n')().server).toEqual(DEFAULT_SERVER_LIMITS)
    expect(DEFAULT_SERVER_LIMITS).toMatchObject({headersTimeoutMs: 10_000, requestTimeoutMs: 30_000})
  })

  it('reads every limit', () => {
    const keys = ['headers_timeout_ms: 2000', 'request_timeout_ms: 4000', 'keep_alive_timeout_ms: 1500']
    keys.push('max_connections: 50', 'max_pipelined_requests: 2')
    const limits = withYaml(`server:\n${keys.map((k) => `  ${k}\n`).join('')}`)().server
    const timeouts = {headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 1500}
    expect(limits).toEqual({...timeouts, maxConnections: 50, maxPipelinedRequests: 2})
  })

  it.each([
    ['a headers timeout over the request timeout', 'server:\n  headers_timeout_ms: 5000\n  request_timeout_ms: 1000\n', /\(5000\) is over/],
    ['a count that is not a whole number', 'server:\n  max_connections: 1.5\n', /server\.max_connections must be a positive whole number/],
    ['an unknown key', 'server:\n  max_sockets: 3\n', /server\.max_sockets is not a known key/],
  ])('refuses %s with CONFIG_INVALID', (_what, yaml, message) => {
    const load = withYaml(yaml)
    expect(load).toThrow(message)
    try {
      load()
    } catch (err) {
      expect(isPlatformError(err, 'CONFIG_INVALID')).toBe(true)
    }
  })
})
