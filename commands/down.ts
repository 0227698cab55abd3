import {Flags} from '@oclif/core'
import {PlatformCommand} from '../src/cli/index.js'
import {style} from '../src/core/index.js'
import {stopPlatform} from '../src/embedded/index.js'

export default class Down extends PlatformCommand {
  static override summary = 'Stop the platform started with `up --detach`'
  static override description = 'Sends SIGTERM (the services drain and close their database), then SIGKILL after --timeout. Exits 0 when nothing runs.'
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --timeout 5 --json']
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait before forcing', default: 15, min: 1}),
  }

  async run() {
    const {flags} = await this.parse(Down)
    const result = await stopPlatform(this.config_(), flags.timeout * 1000)
    if (result.stopped === undefined) this.log(style.dim('Nothing is running.'))
    else this.log(`${style.ok('Stopped')} the platform (pid ${result.stopped})${result.forced ? style.warn(' by force after the timeout') : ''}.`)
    return {stopped: result.stopped ?? null, forced: result.forced}
  }
}
