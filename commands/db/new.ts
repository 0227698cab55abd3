import {Args, Flags} from '@oclif/core'
import {PlatformCommand} from '../../src/cli/index.js'
import {migrationDirs} from '../../src/core/index.js'
import {newMigration} from '../../src/db/index.js'

export default class DbNew extends PlatformCommand {
  static override summary = 'Create the next migration file'
  static override examples = ['<%= config.bin %> db new add_goal_index', '<%= config.bin %> db new "task deadlines" --dir ./migrations']
  static override args = {name: Args.string({description: 'what the migration does', required: true})}
  static override description =
    "Writes NNNN_name.sql into the project's migrations directory (migrations.dir in platform.yaml, default ./platform/migrations), " +
    "numbered after the platform's own migrations and the project's. `db migrate` and `up` apply the platform's, then the project's."
  static override flags = {dir: Flags.string({description: 'migrations directory (default: migrations.dir, ./platform/migrations)'})}

  async run() {
    const {args, flags} = await this.parse(DbNew)
    const config = this.config_()
    const path = newMigration(flags.dir ?? config.projectMigrationsDir, args.name, migrationDirs(config))
    this.log(`created ${path}`)
    return {path}
  }
}
