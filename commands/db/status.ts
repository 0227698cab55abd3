import {Flags} from '@oclif/core'
import {PlatformCommand, dbFlags, withDbFlags, style, table} from '../../src/cli/index.js'
import {migrationDirs} from '../../src/core/index.js'
import {listMigrations, migrationStatus, openDatabase} from '../../src/db/index.js'

export default class DbStatus extends PlatformCommand {
  static override summary = 'Show applied, pending and changed migrations'
  static override description = 'Exits 1 when an applied migration file has changed since it was applied.'
  static override examples = ['<%= config.bin %> db status', '<%= config.bin %> db status --json']
  static override flags = {
    dir: Flags.string({description: "migrations directory (default: the platform's own, then the project's migrations.dir)"}),
    ...dbFlags,
  }

  /** An applied file that changed is a failed check. */
  protected override exitCodeFor(r: {changed: string[]}) {
    return r.changed.length ? 1 : 0
  }

  async run() {
    const {flags} = await this.parse(DbStatus)
    const config = withDbFlags(this.config_(), flags)
    const db = await openDatabase(config, {existingOnly: true})
    if (!db) {
      const pending = listMigrations(flags.dir ?? migrationDirs(config)).map((m) => m.file)
      this.log(
        style.dim(
          `There is no database yet (\`platform up\` or \`platform db migrate\` creates it); ${pending.length} migrations would apply.`,
        ),
      )
      return {database: null, applied: [], pending, changed: [], missing: []}
    }
    try {
      const s = await migrationStatus(db, flags.dir ?? migrationDirs(config))
      const id = (m: {version: string; name: string}) => `${m.version}_${m.name}`
      const changed = new Set(s.changed.map(id))
      const result = {
        database: db.location,
        applied: s.applied.map((a) => ({
          version: a.version,
          name: a.name,
          appliedAt: a.applied_at,
          changed: changed.has(id(a)),
        })),
        pending: s.pending.map((p) => p.file),
        changed: s.changed.map((c) => c.file),
        missing: s.missing.map((m) => `${id(m)}.sql`),
      }
      if (!this.jsonEnabled()) {
        const rows = [
          ...s.applied.map((a) => [`${id(a)}.sql`, changed.has(id(a)) ? style.bad('changed') : style.ok('applied'), a.applied_at]),
          ...s.pending.map((p) => [p.file, style.warn('pending'), '']),
        ]
        this.log(`database: ${db.location}`)
        this.log(table(['migration', 'state', 'applied at'], rows))
      }
      if (s.changed.length) {
        this.logToStderr(
          `${style.bad('changed since applied:')} ${result.changed.join(', ')} (put changes in a new migration: platform db new NAME)`,
        )
      }
      return result
    } finally {
      await db.close()
    }
  }
}
