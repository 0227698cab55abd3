import {Flags} from '@oclif/core'
import {PlatformCommand, dbFlags, withDbFlags} from '../../src/cli/index.js'
import {PlatformError, migrationDirs, style} from '../../src/core/index.js'
import {openDatabase, resetDatabase} from '../../src/db/index.js'

export default class DbReset extends PlatformCommand {
  static override summary = 'Drop all platform data and apply every migration again'
  static override description = 'Drops schema mcp_documents and the migration records, then migrates. Needs --force: the data is gone for good.'
  static override examples = ['<%= config.bin %> db reset --force', 'DATABASE_URL=postgresql://localhost/test <%= config.bin %> db reset --force --json']
  static override flags = {
    force: Flags.boolean({description: 'really drop all data'}),
    ...dbFlags,
  }

  async run() {
    const {flags} = await this.parse(DbReset)
    if (!flags.force) throw new PlatformError('USAGE', 'db reset deletes every agent, goal, plan and task', {suggestion: 'run `platform db reset --force` if that is what you want'})
    const config = withDbFlags(this.config_(), flags)
    const db = await openDatabase(config)
    try {
      const result = await resetDatabase(db, {dir: migrationDirs(config), lockTimeoutMs: config.migrationLockTimeoutMs})
      this.log(`${style.ok('✓')} reset ${db.location}: applied ${result.applied.map((m) => m.file).join(', ')}`)
      return {database: db.location, applied: result.applied.map((m) => m.file)}
    } finally {
      await db.close()
    }
  }
}
