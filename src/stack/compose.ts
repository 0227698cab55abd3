import {PlatformError} from '../core/index.js'
import {PROJECT, composeFile} from './composefile.js'

/** Runs compose commands for the platform project, with its output streamed line by line. */
export interface Compose {
  /** `docker compose` (v2) or `docker-compose` (v1) */
  readonly flavour: string
  run(args: string[], opts?: {onLine?: (line: string) => void}): Promise<void>
}

/** A command line tool run with fixed leading arguments, its output streamed line by line; a failure shows its last lines. */
export function cliRunner(flavour: string, bin: string, prefix: string[], env: NodeJS.ProcessEnv): Compose {
  return {
    flavour,
    async run(args, opts = {}) {
      const {execa} = await import('execa')
      const sub = execa(bin, [...prefix, ...args], {env, all: true, reject: false, buffer: {all: true}, lines: false})
      sub.all?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split(/\r?\n/)) if (line.trim()) opts.onLine?.(line)
      })
      const r = await sub
      if (r.exitCode !== 0) {
        const tail = String(r.all ?? '')
          .trim()
          .split('\n')
          .slice(-8)
          .join('\n')
        const missing = (r as {code?: string}).code === 'ENOENT'
        throw new PlatformError(
          missing ? 'ENVIRONMENT_UNAVAILABLE' : 'CHECK_FAILED',
          missing ? `${bin} is not installed` : `${flavour} ${args.join(' ')} failed (exit ${r.exitCode}):\n${tail}`,
          {
            suggestion: missing
              ? `install ${bin} (Debian: apt-get install docker.io)`
              : 'see the output above; `platform stack doctor` finds containers and ports in the way',
          },
        )
      }
    },
  }
}

/** The compose that is installed: the v2 plugin first, then v1's docker-compose. */
export async function detectCompose(env: NodeJS.ProcessEnv): Promise<Compose> {
  const {execa} = await import('execa')
  const candidates: Array<[string, string[]]> = [
    ['docker', ['compose']],
    ['docker-compose', []],
  ]
  for (const [bin, prefix] of candidates) {
    const probe = await execa(bin, [...prefix, 'version'], {reject: false, env})
    if (probe.exitCode !== 0) continue
    return cliRunner([bin, ...prefix].join(' '), bin, [...prefix, '-p', PROJECT, '-f', composeFile(env)], env)
  }
  throw new PlatformError('ENVIRONMENT_UNAVAILABLE', 'neither `docker compose` nor `docker-compose` is installed', {
    suggestion: 'install the Docker Compose plugin or docker-compose (Debian: apt-get install docker-compose)',
  })
}
