import {Flags} from '@oclif/core'
import {PlatformCommand, renderStatus, stackDeps, useDocker} from '../src/cli/index.js'
import {platformStatus} from '../src/embedded/index.js'

export default class Status extends PlatformCommand {
  static override summary = 'Show each service, its URL, health, mode, database and uptime'
  static override description = `Embedded mode: health from each service's /health/ready. Docker mode (--docker, mode: docker, or a stack that
exists while nothing runs embedded): container, compose project, state, health, ports, image and uptime of each
service. Exits 0 whether or not the platform runs.`
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json', '<%= config.bin %> status --docker']
  static override flags = {docker: Flags.boolean({description: 'report the compose stack'})}

  async run() {
    const {flags} = await this.parse(Status)
    const config = this.config_()
    const embedded = await platformStatus(config)
    let status = embedded
    if (await useDocker(config, flags.docker, async () => !embedded.running && (await import('../src/stack/index.js')).stackExistsAt(process.env))) {
      const {stackStatus} = await import('../src/stack/index.js')
      const {countPatches} = await import('../src/patch/index.js')
      const deps = await stackDeps(config, () => {})
      status = countPatches(config, await stackStatus(deps), await deps.engine.containers({project: 'platform'}))
    }
    this.log(renderStatus(status))
    return status
  }
}
