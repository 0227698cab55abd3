import {Command, Flags} from '@oclif/core'
import chalk from 'chalk'
import {loadConfig, PlatformError, type PlatformConfig} from '../core/index.js'

/**
 * The base of every command: --json, configuration, and the error catalogue's exit codes
 * (a PlatformError prints its message and suggestion, never a stack trace).
 */
export abstract class PlatformCommand extends Command {
  static override enableJsonFlag = true

  protected config_(): PlatformConfig {
    return loadConfig()
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (!(err instanceof PlatformError)) return super.catch(err)
    if (this.jsonEnabled()) {
      this.logJson({error: err.code, message: err.message, ...(err.suggestion ? {suggestion: err.suggestion} : {}), ...(err.details ? {details: err.details} : {})})
    } else {
      this.logToStderr(`${chalk.red('Error:')} ${err.message}`)
      if (err.suggestion) this.logToStderr(`${chalk.dim('Try:')} ${err.suggestion}`)
    }
    return this.exit(err.exitCode)
  }
}

/** Where the database is: shared by every command that opens it. */
export const dbFlags = {
  'database-url': Flags.string({description: 'PostgreSQL URL (default: $DATABASE_URL, else PGlite under .platform/data)', env: 'DATABASE_URL'}),
  'data-dir': Flags.string({description: 'PGlite data directory (default .platform/data)'}),
}

/** The configuration with the database flags applied over it. */
export function withDbFlags(config: PlatformConfig, flags: {'database-url'?: string; 'data-dir'?: string}): PlatformConfig {
  return {
    ...config,
    databaseUrl: flags['database-url'] ?? config.databaseUrl,
    dataDir: flags['data-dir'] ?? config.dataDir,
  }
}

export const logLevelFlag = Flags.option({
  description: 'server log level (JSON lines on stdout)',
  options: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const,
  default: 'info',
})
