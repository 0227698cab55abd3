import {Flags} from '@oclif/core'
import {PlatformCommand, style} from '../../src/cli/index.js'
import {PlatformError, migrationDirs, type PlatformConfig} from '../../src/core/index.js'
import {copyData, migrate, openDatabase} from '../../src/db/index.js'

/** pglite, postgres (the embedded engines of this project) or a PostgreSQL URL. */
function side(config: PlatformConfig, what: string): PlatformConfig {
  if (what === 'pglite' || what === 'postgres') return {...config, databaseUrl: undefined, dbEngine: what}
  if (/^postgres(ql)?:\/\//.test(what)) return {...config, databaseUrl: what}
  throw new PlatformError('USAGE', `${what} is no database`, {
    suggestion: 'name pglite, postgres (the embedded engines) or a postgresql:// URL',
  })
}

export default class DbCopy extends PlatformCommand {
  static override summary = 'Copy all platform data from one database into another (e.g. PGlite into the embedded PostgreSQL)'
  static override description =
    `Migrates the target, then copies agents, goals, plans and tasks with their ids and timestamps, in one transaction. ` +
    `The target must be empty; the source is only read. Stop the platform first (PGlite has one writer).`
  static override examples = [
    '<%= config.bin %> db copy --from pglite --to postgres',
    '<%= config.bin %> db copy --from postgres --to postgresql://app@db.internal/platform',
  ]
  static override flags = {
    from: Flags.string({description: 'pglite, postgres or a PostgreSQL URL', required: true}),
    to: Flags.string({description: 'pglite, postgres or a PostgreSQL URL', required: true}),
  }

  async run() {
    const {flags} = await this.parse(DbCopy)
    const config = this.config_()
    const source = await openDatabase(side(config, flags.from), {existingOnly: true})
    if (!source) throw new PlatformError('USAGE', `there is no ${flags.from} database to copy from`)
    try {
      const target = await openDatabase(side(config, flags.to))
      try {
        await migrate(target, {dir: migrationDirs(config), lockTimeoutMs: config.migrationLockTimeoutMs})
        const {rows} = await copyData(source, target, (t, n) => this.logToStderr(style.dim(`copied ${n} ${t}`)))
        this.log(`${style.ok('✓')} copied ${source.location} into ${target.location}`)
        return {from: source.location, to: target.location, rows}
      } finally {
        await target.close()
      }
    } finally {
      await source.close()
    }
  }
}
