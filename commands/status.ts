import {PlatformCommand, renderStatus} from '../src/cli/index.js'
import {platformStatus} from '../src/embedded/index.js'

export default class Status extends PlatformCommand {
  static override summary = 'Show each service, its URL, health, mode, database and uptime'
  static override description = 'Health comes from each service\'s /health/ready. Exits 0 whether or not the platform runs.'
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run() {
    await this.parse(Status)
    const status = await platformStatus(this.config_())
    this.log(renderStatus(status))
    return status
  }
}
