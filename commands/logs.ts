import {existsSync} from 'node:fs'
import {Args, Flags} from '@oclif/core'
import {
  PlatformCommand,
  SERVICE_ALIASES,
  durationFlag,
  followLog,
  formatLine,
  matches,
  readLog,
  stackDeps,
  swarmDeps,
  useDocker,
  useSwarm,
  style,
} from '../src/cli/index.js'
import {PlatformError, closeOnSignal} from '../src/core/index.js'

export default class Logs extends PlatformCommand {
  static override summary = "Show the logs of the embedded platform or of the stack's services"
  static override description =
    `Embedded: .platform/platform.log, written by \`up\` in the foreground and in the background, one readable line per record ` +
    `(--json: the raw JSON records). SERVICE filters by service: l01 (data-layer) or l09 (gateway).\n\n` +
    `Docker stack (--docker, mode: docker, or a stack that exists while nothing runs embedded): the log of one compose service, ` +
    `or of all of them prefixed with the service name. Swarm (--swarm or mode: swarm): every replica's lines, prefixed with ` +
    `the task (service.slot).`
  static override examples = [
    '<%= config.bin %> logs',
    '<%= config.bin %> logs l01 --since 10m',
    '<%= config.bin %> logs gateway --tail 20 --follow',
    '<%= config.bin %> logs --json | jq .status',
    '<%= config.bin %> logs prometheus --docker --follow',
    '<%= config.bin %> logs l09-api-gateway --swarm --tail 20',
  ]
  static override enableJsonFlag = false
  static override args = {
    service: Args.string({
      description: 'embedded: l01, l09, data-layer, gateway; docker: postgres, l01-data-layer, l09-api-gateway, prometheus',
    }),
  }
  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines until Ctrl-C'}),
    since: durationFlag({description: 'only lines newer than this, e.g. 10m, 1h'}),
    tail: Flags.integer({description: 'only the last N lines (of each service)', min: 1}),
    docker: Flags.boolean({description: "the compose stack's logs"}),
    swarm: Flags.boolean({description: "the swarm stack's logs: every replica, each line prefixed with its task"}),
    json: Flags.boolean({description: 'embedded: the raw JSON records, one a line'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const config = this.config_()
    const since = flags.since === undefined ? undefined : Date.now() - flags.since * 1000
    const {runFiles} = await import('../src/embedded/index.js')
    const file = runFiles(config).log
    if (useSwarm(config, flags.swarm)) {
      if (flags.follow)
        throw new PlatformError('USAGE', '--follow is not offered with --swarm', {suggestion: 'use `docker service logs -f`'})
      const {swarmLogs} = await import('../src/stack/index.js')
      const deps = await swarmDeps(config, () => {})
      process.stdout.write(
        await swarmLogs(deps, args.service, {since: since === undefined ? undefined : Math.floor(since / 1000), tail: flags.tail}),
      )
      return
    }
    if (!(await useDocker(config, flags.docker)))
      return this.embedded(file, args.service, {since, tail: flags.tail, follow: flags.follow, json: flags.json})

    const deps = await stackDeps(config, (l) => this.logToStderr(style.dim(l)))
    const {stackLogs} = await import('../src/stack/index.js')
    const sinceS = since === undefined ? undefined : Math.floor(since / 1000)
    if (!flags.follow) {
      process.stdout.write(String(await stackLogs(deps, args.service, {since: sinceS, tail: flags.tail})))
      return
    }
    const stop = (await stackLogs(deps, args.service, {
      since: sinceS,
      tail: flags.tail,
      follow: (chunk) => process.stdout.write(chunk),
    })) as () => void
    await closeOnSignal(async () => stop())
  }

  private async embedded(
    file: string,
    name: string | undefined,
    opts: {since?: number; tail?: number; follow: boolean; json: boolean},
  ): Promise<void> {
    const service = name === undefined ? undefined : SERVICE_ALIASES[name]
    if (name !== undefined && !service) {
      throw new PlatformError('USAGE', `no embedded service ${name}`, {
        suggestion: `name one of: ${Object.keys(SERVICE_ALIASES).join(', ')} (or use --docker for the stack)`,
      })
    }
    if (!existsSync(file) && !opts.follow) {
      throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `there is no log yet (${file})`, {
        suggestion: 'start the platform with `platform up`',
      })
    }
    // One write for many lines: a busy log would otherwise cost a write per line.
    const print = (lines: string[]) => lines.length && this.log((opts.json ? lines : lines.map(formatLine)).join('\n'))
    print(readLog(file, {service, since: opts.since, tail: opts.tail}))
    if (!opts.follow) return
    const stop = followLog(file, (lines) => print(lines.filter((line) => matches(line, {service}))))
    await closeOnSignal(async () => stop())
  }
}
