import {Flags} from '@oclif/core'
import {
  PlatformCommand,
  dbFlags,
  followBytes,
  followLog,
  formatLine,
  logLevelFlag,
  renderStatus,
  runSteps,
  stackDeps,
  swarmDeps,
  useDocker,
  useSwarm,
  withDbFlags,
  style,
} from '../src/cli/index.js'
import {TOPOLOGIES, type PlatformConfig, type PlatformStatus} from '../src/core/index.js'

export default class Up extends PlatformCommand {
  static override summary = 'Start the whole platform (L01 + L09) on this machine'
  static override description =
    `Embedded default: nothing to install. Runs a real PostgreSQL from the npm-shipped binaries (cluster under ` +
    `.platform/postgres, on a free loopback port; PGlite with --db pglite, or where those binaries cannot run; DATABASE_URL for ` +
    `any other PostgreSQL), applies migrations, starts the data layer (8001) and the gateway (8009) with a shared internal key, ` +
    `and prints where the gateway's API key is kept (.platform/api.key, generated on first start; PLATFORM_API_KEYS overrides).\n\n` +
    `Runs in the foreground (Ctrl-C stops everything, the database too) unless --detach. ` +
    `A second \`up\` while one runs reports it and exits 0.`
  static override examples = [
    '<%= config.bin %> up',
    '<%= config.bin %> up --docker',
    'L09_HOST_PORT=18009 PLATFORM_BASE_IMAGE=node:20-slim <%= config.bin %> up --docker --build',
    '<%= config.bin %> up --swarm --init --replicas l01-data-layer=2,l09-api-gateway=3',
    '<%= config.bin %> up --detach',
    '<%= config.bin %> up --db pglite',
    'DATABASE_URL=postgresql://localhost/platform <%= config.bin %> up --detach --json',
  ]
  static override flags = {
    detach: Flags.boolean({char: 'd', description: 'run in the background (pidfile and log under .platform/)'}),
    topology: Flags.option({description: "where each service's event loop runs", options: TOPOLOGIES})(),
    'log-level': logLevelFlag(),
    'log-format': Flags.option({
      description: 'foreground: how request lines print (default: pretty on a terminal, else json)',
      options: ['pretty', 'json'] as const,
    })(),
    'wait-timeout': Flags.integer({description: 'with --detach: seconds to wait for readiness', default: 60, min: 1}),
    child: Flags.boolean({hidden: true, description: 'internal: the detached process itself'}),
    docker: Flags.boolean({description: 'run the compose stack (project platform) instead of the embedded default'}),
    swarm: Flags.boolean({description: 'deploy the stack platform to the swarm this Docker engine manages'}),
    init: Flags.boolean({description: 'with --swarm: make this engine a single-node swarm when it is in none'}),
    replicas: Flags.string({description: 'with --swarm: SERVICE=N,... (default 2 for l01-data-layer and l09-api-gateway, else 1)'}),
    registry: Flags.string({description: 'with --swarm: HOST:PORT of a registry every node reaches; the app image is pushed there'}),
    build: Flags.boolean({description: 'with --docker or --swarm: rebuild the platform image first'}),
    timeout: Flags.integer({
      description: 'with --docker or --swarm: seconds to wait for every service to be healthy',
      default: 180,
      min: 1,
    }),
    db: dbFlags.db,
  }

  /** A platform found running but unhealthy is a failed check. */
  protected override exitCodeFor(s: PlatformStatus) {
    return s.running && s.services.some((svc) => svc.health !== 'healthy') ? 1 : 0
  }

  async run() {
    const {flags} = await this.parse(Up)
    const config = withDbFlags(this.config_(), flags)
    if (useSwarm(config, flags.swarm)) return this.upSwarm(config, flags)
    if (await useDocker(config, flags.docker, {starting: true})) return this.upDocker(config, flags)
    const embedded = await import('../src/embedded/index.js')
    const json = this.jsonEnabled()
    const format = flags['log-format'] ?? (process.stdout.isTTY ? 'pretty' : 'json')
    let stopFollowing = () => {}
    const result = await embedded.up(
      config,
      {
        topology: flags.topology ?? embedded.DEFAULT_TOPOLOGY,
        logLevel: flags['log-level'],
        detach: flags.detach,
        child: flags.child,
        childArgs: flags.db ? ['--db', flags.db] : [],
        waitTimeoutMs: flags['wait-timeout'] * 1000,
        cliEntry: process.argv[1]!,
      },
      {
        step: (step) => this.logToStderr(style.dim(`› ${step}`)),
        note: (line) => this.logToStderr(style.warn(line)),
        warn: (line) => this.logToStderr(style.warn(line)),
        ready: (status, log) => {
          if (flags.child) return
          if (json) return this.logJson(status)
          this.logToStderr(`${style.ok('Platform is up.')}\n${renderStatus(status)}\nStop it with Ctrl-C.\n`)
          // The services write their log file; a person reads it here as it grows. JSON lines are copied as
          // bytes, never decoded: every request's lines pass through here.
          stopFollowing =
            format === 'pretty'
              ? followLog(log.file, (lines) => process.stdout.write(`${lines.map(formatLine).join('\n')}\n`), log.offset)
              : followBytes(log.file, (whole) => process.stdout.write(whole), log.offset)
        },
      },
    )
    stopFollowing()
    if (result.outcome === 'already-running') {
      this.log(
        `${result.healthy ? style.ok('Already running') : style.bad('Running but unhealthy')} (pid ` +
          `${result.status.pid}):\n${renderStatus(result.status)}`,
      )
      return result.status
    }
    if (result.outcome === 'detached') {
      this.log(`${style.ok('Platform is up')} in the background.\n${renderStatus(result.status)}\nStop it with \`platform down\`.`)
      return result.status
    }
    // The foreground's document was printed when it was ready; what is left is how it stopped.
    process.exitCode = result.exitCode
    return undefined
  }

  private async upSwarm(
    config: PlatformConfig,
    flags: {build: boolean; timeout: number; init: boolean; replicas?: string; registry?: string},
  ) {
    const json = this.jsonEnabled()
    const {parseReplicas, swarmUpSteps, swarmStatus} = await import('../src/stack/index.js')
    const replicas = {...config.swarmReplicas, ...parseReplicas(flags.replicas)}
    const deps = await swarmDeps(config, (line) => json || this.logToStderr(style.dim(line)))
    const opts = {init: flags.init, replicas, registry: flags.registry, build: flags.build, timeoutMs: flags.timeout * 1000}
    await runSteps(swarmUpSteps(deps, opts), {json})
    const status = await swarmStatus(deps)
    this.log(
      `${style.ok('The stack is deployed')} (swarm stack platform).\n${renderStatus(status)}\nRemove it with \`platform down --swarm\`.`,
    )
    return status
  }

  private async upDocker(config: PlatformConfig, flags: {build: boolean; timeout: number}) {
    const json = this.jsonEnabled()
    const deps = await stackDeps(config, (line) => json || this.logToStderr(style.dim(line)))
    const {upSteps, stackStatus} = await import('../src/stack/index.js')
    await runSteps(upSteps(deps, {build: flags.build, timeoutMs: flags.timeout * 1000}), {json})
    const status = await stackStatus(deps)
    this.log(
      `${style.ok('The stack is up')} (project platform, ${deps.compose.flavour}).\n${renderStatus(status)}\nStop it with \`platform ` +
        `down --docker\`.`,
    )
    return status
  }
}
