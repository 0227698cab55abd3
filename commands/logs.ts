import {Args, Flags} from '@oclif/core'
import {PlatformCommand, stackDeps} from '../src/cli/index.js'
import {closeOnSignal, parseDuration, style} from '../src/core/index.js'

export default class Logs extends PlatformCommand {
  static override summary = 'Show the logs of the stack\'s services (or of the detached embedded platform)'
  static override description = `Docker stack: the log of one service, or of all of them prefixed with the service name.
Embedded (detached): the log file .platform/platform.log.`
  static override examples = ['<%= config.bin %> logs', '<%= config.bin %> logs l01-data-layer --since 10m', '<%= config.bin %> logs prometheus --follow']
  static override enableJsonFlag = false
  static override args = {service: Args.string({description: 'a compose service: postgres, l01-data-layer, l09-api-gateway, prometheus'})}
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until Ctrl-C'}),
    since: Flags.string({description: 'only lines newer than this, e.g. 10m, 1h'}),
    tail: Flags.integer({description: 'only the last N lines of each service', min: 1}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const config = this.config_()
    const {runFiles, runningPlatform} = await import('../src/embedded/index.js')
    const {stackExistsAt, stackLogs} = await import('../src/stack/index.js')
    const embedded = await runningPlatform(config)
    if (embedded && !args.service && config.mode !== 'docker' && !(await stackExistsAt(process.env))) {
      const {readFileSync} = await import('node:fs')
      this.log(readFileSync(runFiles(config).log, 'utf8').trimEnd())
      return
    }
    const since = flags.since ? Math.floor(Date.now() / 1000 - parseDuration(flags.since)) : undefined
    const deps = await stackDeps(config, (l) => this.logToStderr(style.dim(l)))
    if (!flags.follow) {
      process.stdout.write(String(await stackLogs(deps, args.service, {since, tail: flags.tail})))
      return
    }
    const stop = (await stackLogs(deps, args.service, {since, tail: flags.tail, follow: (chunk) => process.stdout.write(chunk)})) as () => void
    await closeOnSignal(async () => stop())
  }
}
