import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

let root: string | undefined

/** The installed package's root (where platform/ and templates/ live), from dist/ or from src/. */
export function packageRoot(): string {
  if (root) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'platform') return (root = dir)
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the platform package root')
    dir = up
  }
}

export const migrationsDir = (): string => join(packageRoot(), 'platform', 'migrations')

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version
}
