import {Flags} from '@oclif/core'
import {PlatformCommand, style, table} from '../../src/cli/index.js'
import {isIncomplete, listRecords} from '../../src/patch/index.js'

export default class PatchList extends PlatformCommand {
  static override summary = 'List the hot patches recorded under .platform/patches/'
  static override description = 'A patch stopped between its copy and its restart shows as incomplete; `patch rollback` can undo it.'
  static override examples = ['<%= config.bin %> patch list', '<%= config.bin %> patch list --service l01-data-layer --json']
  static override flags = {service: Flags.string({description: 'only this service'})}

  async run() {
    const {flags} = await this.parse(PatchList)
    const records = listRecords(this.config_()).filter((r) => !flags.service || r.service === flags.service)
    const rows = records.map((r) => ({...r, outcome: isIncomplete(r) ? ('incomplete' as const) : r.outcome}))
    if (rows.length === 0) this.log(style.dim('No patches recorded.'))
    else {
      const bad = (o: string) => o === 'incomplete' || o === 'overwritten' || o.endsWith('failed')
      const colour = (o: string) => (o === 'applied' ? style.warn(o) : bad(o) ? style.bad(o) : style.dim(o))
      this.log(
        table(
          ['id', 'when', 'service', 'container', 'files', 'outcome', 'message'],
          rows.map((r) => [
            r.id,
            r.createdAt.replace('T', ' ').slice(0, 19),
            r.service,
            r.container.name,
            String(r.files.length),
            colour(r.outcome),
            r.message ?? '',
          ]),
        ),
      )
    }
    return {patches: rows}
  }
}
