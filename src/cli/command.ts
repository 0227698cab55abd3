import {Command, Errors, Flags} from '@oclif/core'
import {closeOnSignal, loadConfig, nextSignal, parseDuration, PlatformError, secretsFromFiles} from '../core/index.js'
import {style} from './output.js'
import type {DbEngine, PlatformConfig} from '../core/index.js'

/**
 * The base of every command: --json, configuration, and the error catalogue's exit codes
 * (a PlatformError prints its message and suggestion, never a stack trace).
 */
export abstract class PlatformCommand extends Command {
  static override enableJsonFlag = true

  override async init(): Promise<void> {
    await super.init()
    // Before the flags are parsed: --database-url reads DATABASE_URL, which may come from DATABASE_URL_FILE.
    secretsFromFiles(process.env)
  }

  protected config_(): PlatformConfig {
    return loadConfig()
  }

  /**
   * Starts one service and keeps it until SIGINT or SIGTERM, then closes it (draining). The
   * signal handlers go in first, so a signal that comes during the start is not lost.
   */
  protected async serveUntilSignal(
    start: () => Promise<{url: string; backend: string; close(): Promise<void>}>,
    describe: (s: {url: string; backend: string}) => string,
  ): Promise<void> {
    const signal = nextSignal((msg) => this.logToStderr(msg))
    const service = await start()
    this.logToStderr(describe(service))
    await closeOnSignal(service.close, (msg) => this.logToStderr(msg), signal)
  }

  /**
   * The exit code a command's result calls for: a failed check (unhealthy service, failed threshold,
   * rolled-back patch) is 1 or another catalogue code. Commands override this; the exit code is set here only.
   */
  protected exitCodeFor(_result: unknown): number {
    return 0
  }

  protected override async _run<T>(): Promise<T> {
    const result = await super._run<T>()
    const code = result === undefined ? 0 : this.exitCodeFor(result)
    if (code && !process.exitCode) process.exitCode = code
    return result
  }

  /** Any failure in the catalogue's terms: a PlatformError as it is, oclif's usage errors as USAGE, the rest INTERNAL. */
  private asPlatformError(err: Error & {oclif?: {exit?: number}}): PlatformError {
    if (err instanceof PlatformError) return err
    if (err.oclif?.exit === 2) {
      // oclif words a flag's parse failure as "Parsing --flag \n\t<why>\nSee more help with --help".
      const message = err.message.replace(/\nSee more help with --help$/, '').replace(/^Parsing (--\S+) \n\t/, '$1: ')
      return new PlatformError('USAGE', message, {suggestion: `see \`${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''} --help\``})
    }
    const suggestion = 'this is a bug in platform; run again with DEBUG=* to see where it happened'
    // Never "Error: " and nothing: a failure without a message still says what it was.
    return new PlatformError('INTERNAL', err.message || err.name || String(err) || 'an unknown failure', {suggestion})
  }

  /** The --json error document: the contract's error shape plus what the user can do about it. */
  protected override toErrorJson(err: unknown) {
    const e = this.asPlatformError(err as Error)
    const {code, message, suggestion, details} = e
    return {error: code, message, ...(suggestion ? {suggestion} : {}), ...(details ? {details} : {})}
  }

  protected override async catch(err: Error & {code?: string; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.code === 'EEXIT') throw err // this.exit(): already decided
    const usage = err.oclif?.exit === 2 && !(err instanceof PlatformError)
    if (usage && !this.jsonEnabled()) return super.catch(err) // oclif's own usage message, exit 2
    const e = this.asPlatformError(err)
    if (this.jsonEnabled()) return super.catch(e) // prints toErrorJson(e); the exit code is e.exitCode
    this.logToStderr(`${style.bad('Error:')} ${e.message}`)
    if (e.suggestion) this.logToStderr(`${style.dim('Try:')} ${e.suggestion}`)
    return this.exit(e.exitCode)
  }
}

/** Where the database is: shared by every command that opens it. */
export const dbFlags = {
  'database-url': Flags.string({description: 'PostgreSQL URL (default: $DATABASE_URL, else the embedded database)', env: 'DATABASE_URL'}),
  db: Flags.option({
    description: 'the embedded database engine (default postgres, or database.engine)',
    options: ['postgres', 'pglite'] as const,
  })(),
  'data-dir': Flags.string({description: 'PGlite data directory (default .platform/data)'}),
}

/** The configuration with the database flags applied over it. */
export function withDbFlags(config: PlatformConfig, flags: {'database-url'?: string; 'data-dir'?: string; db?: DbEngine}): PlatformConfig {
  const settings = {...config.settings}
  const given = {
    database_url: ['database-url', flags['database-url']],
    'database.engine': ['db', flags.db],
    data_dir: ['data-dir', flags['data-dir']],
  } as const
  for (const [key, [flag, value]] of Object.entries(given)) {
    // --database-url also reads DATABASE_URL (oclif's env): that value is still the environment's.
    const fromEnv = flag === 'database-url' && value === process.env.DATABASE_URL
    if (value !== undefined && !fromEnv) settings[key] = {value, source: 'flag', from: `--${flag}`}
  }
  return {
    ...config,
    databaseUrl: flags['database-url'] ?? config.databaseUrl,
    dbEngine: flags.db ?? config.dbEngine,
    dataDir: flags['data-dir'] ?? config.dataDir,
    settings,
  }
}

export const logLevelFlag = Flags.option({
  description: 'server log level',
  options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const,
  default: 'info',
})

/** A duration flag ('90', '10s', '5m', '1h30m'), parsed to seconds; a bad one is a usage error naming the flag. */
export const durationFlag = Flags.custom<number>({
  helpValue: '<duration>',
  parse: async (input) => {
    try {
      return parseDuration(input)
    } catch (err) {
      throw new Errors.CLIError(`${(err as Error).message}: write it as 10s, 5m, 1h or 1m30s`, {exit: 2})
    }
  },
})

/** How long a restarted container may take to be healthy (patch apply, rollback, reapply), in seconds. */
export const healthTimeoutFlag = () =>
  durationFlag({description: 'how long to wait for health after the restart', default: 60, defaultHelp: async () => '60s'})
