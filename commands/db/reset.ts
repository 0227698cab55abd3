import {Flags} from '@oclif/core'
import {PlatformCommand, confirm, dbFlags, withDbFlags, style} from '../../src/cli/index.js'
import {migrationDirs} from '../../src/core/index.js'
import {openDatabase, resetDatabase} from '../../src/db/index.js'

export default class DbReset extends PlatformCommand {
  static override summary = 'Drop all platform data and apply every migration again'
  static override description = `Drops schema mcp_documents and the migration records, then migrates. The data is gone for good: on a \
terminal it asks first; elsewhere (scripts, --json) it needs --force.`
  static override examples = [
    '<%= config.bin %> db reset --force',
    'DATABASE_URL=postgresql://localhost/test <%= config.bin %> db reset --force --json',
  ]
  static override flags = {
    force: Flags.boolean({description: 'drop all data without asking'}),
    ...dbFlags,
  }

  async run() {
    const {flags} = await this.parse(DbReset)
    const config = withDbFlags(this.config_(), flags)
    if (!flags.force) {
      await confirm('db reset deletes every agent, goal, plan and task. Go ahead?', {
        json: this.jsonEnabled(),
        flag: '--force',
        what: 'db reset',
        suggestion: 'it deletes every agent, goal, plan and task; run `platform db reset --force` if that is what you want',
      })
    }
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
