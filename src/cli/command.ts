import {Command, Flags} from '@oclif/core'
import chalk from 'chalk'
import {closeOnSignal, loadConfig, nextSignal, PlatformError, type DbEngine, type PlatformConfig} from '../core/index.js'

/**
 * The base of every command: --json, configuration, and the error catalogue's exit codes
 * (a PlatformError prints its message and suggestion, never a stack trace).
 */
export abstract class PlatformCommand extends Command {
  static override enableJsonFlag = true

  protected config_(): PlatformConfig {
    return loadConfig()
  }

  /**
   * Starts one service and keeps it until SIGINT or SIGTERM, then closes it (draining). The
   * signal handlers go in first, so a signal that comes during the start is not lost.
   */
  protected async serveUntilSignal(start: () => Promise<{url: string; backend: string; close(): Promise<void>}>, describe: (s: {url: string; backend: string}) => string): Promise<void> {
    const signal = nextSignal((msg) => this.logToStderr(msg))
    const service = await start()
    this.logToStderr(describe(service))
    await closeOnSignal(service.close, (msg) => this.logToStderr(msg), signal)
  }

  protected override async catch(err: Error & {exitCode?: number; code?: string; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.code === 'EEXIT') return super.catch(err) // this.exit(): already decided
    const usage = err.oclif?.exit === 2 && !(err instanceof PlatformError)
    if (usage && !this.jsonEnabled()) return super.catch(err) // oclif's own usage message, exit 2
    const e =
      err instanceof PlatformError
        ? err
        : usage
          ? new PlatformError('USAGE', err.message.replace(/\nSee more help with --help$/, ''), {suggestion: `see \`${this.config.bin} ${this.id?.replaceAll(':', ' ') ?? ''} --help\``})
          : new PlatformError('INTERNAL', err.message, {suggestion: 'this is a bug in platform; run again with DEBUG=* to see where it happened'})
    if (this.jsonEnabled()) {
      this.logJson({error: e.code, message: e.message, ...(e.suggestion ? {suggestion: e.suggestion} : {}), ...(e.details ? {details: e.details} : {})})
    } else {
      this.logToStderr(`${chalk.red('Error:')} ${e.message}`)
      if (e.suggestion) this.logToStderr(`${chalk.dim('Try:')} ${e.suggestion}`)
    }
    return this.exit(e.exitCode)
  }
}

/** Where the database is: shared by every command that opens it. */
export const dbFlags = {
  'database-url': Flags.string({description: 'PostgreSQL URL (default: $DATABASE_URL, else the embedded database)', env: 'DATABASE_URL'}),
  db: Flags.option({description: 'the embedded database engine (default postgres, or database.engine)', options: ['postgres', 'pglite'] as const})(),
  'data-dir': Flags.string({description: 'PGlite data directory (default .platform/data)'}),
}

/** The configuration with the database flags applied over it. */
export function withDbFlags(config: PlatformConfig, flags: {'database-url'?: string; 'data-dir'?: string; db?: DbEngine}): PlatformConfig {
  return {
    ...config,
    databaseUrl: flags['database-url'] ?? config.databaseUrl,
    dbEngine: flags.db ?? config.dbEngine,
    dataDir: flags['data-dir'] ?? config.dataDir,
  }
}

export const logLevelFlag = Flags.option({
  description: 'server log level',
  options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const,
  default: 'info',
})

/** How long a restarted container may take to be healthy (patch apply, rollback, reapply). */
export const healthTimeoutFlag = () => Flags.string({description: 'how long to wait for health after the restart', default: '60s'})
