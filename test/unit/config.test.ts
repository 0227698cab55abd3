import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readSchema, renderConfigTemplate} from '../../src/cli/index.js'
import {KEYS, closest, loadConfig, maskSecret, readConfigFile} from '../../src/core/index.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'platform-config-'))
type Node = {properties?: Record<string, Node>; default?: unknown}

/** The schema's leaves as platform.yaml's dotted keys. */
function schemaKeys(node: Node, prefix = ''): Record<string, Node> {
  return Object.fromEntries(
    Object.entries(node.properties ?? {}).flatMap(([name, child]) =>
      child.properties ? Object.entries(schemaKeys(child, `${prefix}${name}.`)) : [[`${prefix}${name}`, child]],
    ),
  )
}

describe('the JSON Schema of platform.yaml (templates/platform.schema.json)', () => {
  const keys = schemaKeys(readSchema())

  it('has exactly the keys the configuration reader knows, so a new key cannot be left out of it', () => {
    expect(Object.keys(keys).sort()).toEqual(Object.keys(KEYS).sort())
  })

  it('gives each key the default the configuration really has', () => {
    const root = tmp()
    const settings = loadConfig({cwd: root, env: {}}).settings
    expect(Object.keys(settings).sort()).toEqual(Object.keys(KEYS).sort()) // every key says where its value came from
    for (const [key, node] of Object.entries(keys)) {
      expect(settings[key]!.source, key).toBe('default')
      const value = settings[key]!.value
      // Paths are taken relative to the project.
      const expected =
        typeof node.default === 'string' && typeof value === 'string' && value.startsWith('/') ? resolve(root, node.default) : node.default
      if (node.default !== undefined) expect(value, key).toEqual(expected)
      if (node.default !== undefined) expect(KEYS[key]!(node.default), key).toBeUndefined() // the reader accepts it
    }
  })
})

describe('the platform.yaml starter', () => {
  const text = renderConfigTemplate()

  it('changes nothing as written: every key is there, commented out', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'platform.yaml'), text)
    expect(readConfigFile(join(dir, 'platform.yaml'))).toEqual({})
    for (const key of Object.keys(KEYS)) expect(text, key).toMatch(new RegExp(`^#\\s+${key.split('.').pop()}: `, 'm'))
  })

  it('uncommented, sets each key to its default (the keys without one stay commented)', () => {
    const lines = text.split('\n')
    const picked = lines
      .filter((l, i) => /^# ( {2})?[a-z_]+:( |$)/.test(l) && !lines[i - 1]?.includes('(not set by default)'))
      .map((l) => l.slice(2))
    // A section whose keys all stay commented stays commented too.
    const uncommented = picked.filter((l, i) => !l.endsWith(':') || picked[i + 1]?.startsWith('  ')).join('\n')
    const dir = tmp()
    writeFileSync(join(dir, 'platform.yaml'), uncommented)
    const fromFile = loadConfig({cwd: dir, env: {}})
    const defaults = loadConfig({cwd: tmp(), env: {}})
    for (const [key, s] of Object.entries(fromFile.settings)) {
      if (s.source !== 'file') continue
      expect(s.value, key).toEqual(schemaKeys(readSchema())[key]!.default)
    }
    expect(Object.values(fromFile.settings).filter((s) => s.source === 'file').length).toBeGreaterThanOrEqual(8)
    expect({...fromFile.gateway, l01Url: ''}).toEqual({...defaults.gateway, l01Url: ''})
  })
})

describe('configuration sources and mistakes', () => {
  it('records default, file and environment for each key', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'platform.yaml'), 'gateway:\n  port: 9009\n  host: 0.0.0.0\n')
    const s = loadConfig({cwd: dir, env: {L09_HOST: '127.0.0.2', DATABASE_URL: ''}}).settings
    expect(s['gateway.port']).toEqual({value: 9009, source: 'file', from: join(dir, 'platform.yaml')})
    expect(s['gateway.host']).toEqual({value: '127.0.0.2', source: 'environment', from: 'L09_HOST'})
    expect(s['data_layer.port']).toEqual({value: 8001, source: 'default'})
    expect(s.database_url).toEqual({value: undefined, source: 'default'}) // an empty variable is not set
  })

  it.each([
    ['gatway:\n  port: 9009\n', 'gatway is not a known key; did you mean gateway?'],
    ['gateway:\n  prot: 9009\n', 'gateway.prot is not a known key; did you mean gateway.port?'],
    ['mdoe: docker\n', 'mdoe is not a known key; did you mean mode?'],
  ])('an unknown key suggests the nearest one: %j', (yaml, message) => {
    const dir = tmp()
    writeFileSync(join(dir, 'platform.yaml'), yaml)
    expect(() => loadConfig({cwd: dir, env: {}})).toThrow(message)
  })

  it('suggests nothing for a key unlike any other', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'platform.yaml'), 'kubernetes_cluster: x\n')
    expect(() => loadConfig({cwd: dir, env: {}})).toThrow(/kubernetes_cluster is not a known key$/)
  })

  it('closest ranks by edit distance and gives up on strangers', () => {
    expect(closest('stauts', ['status', 'stack doctor', 'up'])).toBe('status')
    expect(closest('xyzzy', ['status', 'down'])).toBeUndefined()
  })

  it('masks the password of a URL and nothing else', () => {
    expect(maskSecret('postgresql://app:s3cret@db:5432/platform')).toBe('postgresql://app:****@db:5432/platform')
    expect(maskSecret('postgresql://app@db/platform')).toBe('postgresql://app@db/platform')
    expect(maskSecret(8009)).toBe(8009)
    expect(readFileSync(new URL('../../templates/platform.schema.json', import.meta.url), 'utf8')).not.toContain('s3cret')
  })
})
