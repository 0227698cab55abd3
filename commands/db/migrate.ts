import {Flags} from '@oclif/core'
import {PlatformCommand, dbFlags, withDbFlags, style} from '../../src/cli/index.js'
import {migrationDirs} from '../../src/core/index.js'
import {migrate, openDatabase} from '../../src/db/index.js'

export default class DbMigrate extends PlatformCommand {
  static override summary = 'Apply pending migrations'
  static override description =
    `Applies each pending file of platform/migrations in order, each in its own transaction, under an advisory lock
so that concurrent migrators never apply a file twice. An applied file whose checksum changed stops the run.`
  static override examples = [
    '<%= config.bin %> db migrate',
    '<%= config.bin %> db migrate --dry-run',
    '<%= config.bin %> db migrate --json',
  ]
  static override flags = {
    'dry-run': Flags.boolean({description: 'list what would be applied, apply nothing'}),
    dir: Flags.string({description: "migrations directory (default: the platform's own, then the project's migrations.dir)"}),
    ...dbFlags,
  }

  async run() {
    const {flags} = await this.parse(DbMigrate)
    const config = withDbFlags(this.config_(), flags)
    const db = await openDatabase(config)
    try {
      const result = await migrate(db, {
        dir: flags.dir ?? migrationDirs(config),
        dryRun: flags['dry-run'],
        lockTimeoutMs: config.migrationLockTimeoutMs,
      })
      const files = (flags['dry-run'] ? result.pending : result.applied).map((m) => m.file)
      if (files.length === 0) this.log(`${style.ok('✓')} ${db.location} is up to date`)
      for (const f of files) this.log(flags['dry-run'] ? `would apply ${f}` : `${style.ok('✓')} applied ${f}`)
      return {
        database: db.location,
        dryRun: result.dryRun,
        applied: result.applied.map((m) => m.file),
        pending: result.pending.map((m) => m.file),
      }
    } finally {
      await db.close()
    }
  }
}
