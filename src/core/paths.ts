import {existsSync, readFileSync, realpathSync} from 'node:fs'
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

/** Where migrations come from: the platform's own, then the project's when it has some (once, if they are one directory). */
export function migrationDirs(config: {projectMigrationsDir: string}): string[] {
  const own = realpathSync(migrationsDir())
  if (!existsSync(config.projectMigrationsDir)) return [own]
  const project = realpathSync(config.projectMigrationsDir)
  return project === own ? [own] : [own, project]
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version
}
