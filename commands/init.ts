import {Flags} from '@oclif/core'
import {PlatformCommand, initProject, style} from '../src/cli/index.js'

export default class Init extends PlatformCommand {
  static override summary = 'Set up this directory for the platform: platform.yaml, .gitignore, and with --stack the compose starters'
  static override description = `Writes platform.yaml with every key and its default (commented out, with a JSON Schema for editors) and \
adds .platform/ and reports/ to .gitignore. With --stack it also writes platform/docker-compose.app.yml, platform/Dockerfile, \
platform/prometheus/prometheus.yml and an empty platform/migrations/. A file that exists is kept unless --force.`
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --stack', '<%= config.bin %> init --force --json']
  static override flags = {
    stack: Flags.boolean({description: 'also write the Docker compose stack starters under platform/'}),
    force: Flags.boolean({description: 'overwrite files that exist'}),
  }

  async run() {
    const {flags} = await this.parse(Init)
    const result = initProject(process.cwd(), {force: flags.force, stack: flags.stack})
    for (const path of result.written) this.log(`${style.ok('wrote')} ${path}`)
    for (const path of result.kept) this.log(`${style.dim('kept')}  ${path} ${style.dim('(it exists; --force overwrites it)')}`)
    if (result.written.length === 0) this.log(style.dim('Nothing to write: this directory is set up.'))
    return result
  }
}
