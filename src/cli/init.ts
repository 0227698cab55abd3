import {appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {CONFIG_FILE, packageRoot} from '../core/index.js'

interface SchemaNode {
  description?: string
  default?: unknown
  examples?: unknown[]
  properties?: Record<string, SchemaNode>
}

export const schemaPath = (): string => join(packageRoot(), 'templates', 'platform.schema.json')

export function readSchema(): SchemaNode {
  return JSON.parse(readFileSync(schemaPath(), 'utf8')) as SchemaNode
}

const yamlValue = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))

/**
 * platform.yaml as a starter: every key of the schema with its description and its default, all
 * commented out, so the file changes nothing until a line is uncommented (and later defaults still apply).
 */
export function renderConfigTemplate(schema: SchemaNode = readSchema(), schemaFile = schemaPath()): string {
  const out = [
    '# platform.yaml: every key with its default, commented out. Uncomment a key (and its section) to change it.',
    '# The environment overrides this file and command flags override both; `platform config` shows what is in effect.',
    `# yaml-language-server: $schema=${schemaFile}`,
  ]
  const entry = (indent: string, name: string, node: SchemaNode, gap = true) => {
    if (gap) out.push('#')
    out.push(`#${indent} ${node.description ?? name}`)
    if (node.default !== undefined) out.push(`#${indent} ${name}: ${yamlValue(node.default)}`)
    else out.push(`#${indent} (not set by default) e.g.`, `#${indent} ${name}: ${yamlValue(node.examples?.[0] ?? '')}`)
  }
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    if (!node.properties) {
      entry('', name, node)
      continue
    }
    out.push('#', `# ${name}:`)
    let first = true
    for (const [key, child] of Object.entries(node.properties)) {
      entry('  ', key, child, !first)
      first = false
    }
  }
  return `${out.join('\n')}\n`
}

export interface InitResult {
  /** paths relative to the project root */
  written: string[]
  /** files that exist and were kept (no --force) */
  kept: string[]
}

const IGNORED = ['.platform/', 'reports/']
/** The stack starters: the package's own files, so `platform init --stack` writes what `up --docker` runs. */
const STACK_FILES = ['docker-compose.app.yml', 'Dockerfile', join('prometheus', 'prometheus.yml')]

/** Sets up a project: platform.yaml, its .gitignore entries, and with stack the compose starters. Never overwrites without force. */
export function initProject(root: string, opts: {force?: boolean; stack?: boolean} = {}): InitResult {
  const result: InitResult = {written: [], kept: []}
  const write = (path: string, produce: (target: string) => void) => {
    const target = join(root, path)
    if (existsSync(target) && !opts.force) return void result.kept.push(path)
    mkdirSync(dirname(target), {recursive: true})
    produce(target)
    result.written.push(path)
  }
  write(CONFIG_FILE, (t) => writeFileSync(t, renderConfigTemplate()))

  // .gitignore is added to, never rewritten.
  const gitignore = join(root, '.gitignore')
  const present = new Set(
    existsSync(gitignore)
      ? readFileSync(gitignore, 'utf8')
          .split(/\r?\n/)
          .map((l) => l.trim())
      : [],
  )
  const missing = IGNORED.filter((line) => !present.has(line) && !present.has(line.replace(/\/$/, '')))
  if (missing.length) {
    const text = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : ''
    appendFileSync(gitignore, `${text && !text.endsWith('\n') ? '\n' : ''}${missing.join('\n')}\n`)
    result.written.push(`.gitignore (${missing.join(', ')})`)
  }

  if (opts.stack) {
    const from = join(packageRoot(), 'platform')
    for (const file of STACK_FILES) write(join('platform', file), (t) => copyFileSync(join(from, file), t))
    const migrations = join(root, 'platform', 'migrations')
    if (!existsSync(migrations)) {
      mkdirSync(migrations, {recursive: true})
      result.written.push(`${relative(root, migrations)}/`)
    }
  }
  return result
}
