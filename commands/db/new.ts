import {Args, Flags} from '@oclif/core'
import {PlatformCommand} from '../../src/cli/index.js'
import {migrationsDir} from '../../src/core/index.js'
import {newMigration} from '../../src/db/index.js'

export default class DbNew extends PlatformCommand {
  static override summary = 'Create the next migration file'
  static override examples = ['<%= config.bin %> db new add_goal_index', '<%= config.bin %> db new "task deadlines" --dir ./migrations']
  static override args = {name: Args.string({description: 'what the migration does', required: true})}
  static override flags = {dir: Flags.string({description: 'migrations directory (default: the platform\'s own)'})}

  async run() {
    const {args, flags} = await this.parse(DbNew)
    const path = newMigration(flags.dir ?? migrationsDir(), args.name)
    this.log(`created ${path}`)
    return {path}
  }
}
