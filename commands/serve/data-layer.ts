import {Flags} from '@oclif/core'
import {PlatformCommand, dbFlags, durationFlag, logLevelFlag, withDbFlags} from '../../src/cli/index.js'

export default class ServeDataLayer extends PlatformCommand {
  static override summary = 'Run the L01 data layer in the foreground'
  static override description = `Serves the L01 routes of the contract on DATABASE_URL, else on the embedded database \
(as \`up\` chooses it). \
Pending migrations are applied at start under the migration lock. Logs one JSON line per request. \
SIGINT or SIGTERM drains in-flight requests, closes the database and releases its lock.`
  static override examples = [
    '<%= config.bin %> serve data-layer',
    '<%= config.bin %> serve data-layer --port 9001 --host 0.0.0.0',
    'DATABASE_URL=postgresql://app@localhost/platform <%= config.bin %> serve data-layer',
  ]
  static override enableJsonFlag = false
  static override flags = {
    port: Flags.integer({description: 'port to listen on (default 8001, or data_layer.port / L01_PORT)', min: 0, max: 65535}),
    host: Flags.string({description: 'address to listen on (default 127.0.0.1)'}),
    'log-level': logLevelFlag(),
    'log-file': Flags.string({description: 'append the JSON log lines to this file instead of stdout'}),
    'wait-for-db': durationFlag({
      description: 'at start, wait up to this long for the database to answer (a stack without depends_on, e.g. Swarm)',
      default: 0,
    }),
    ...dbFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ServeDataLayer)
    const base = withDbFlags(this.config_(), flags)
    const config = {...base, dataLayer: {host: flags.host ?? base.dataLayer.host, port: flags.port ?? base.dataLayer.port}}
    const {startDataLayerWithDatabase} = await import('../../src/embedded/index.js')
    await this.serveUntilSignal(
      () =>
        startDataLayerWithDatabase(config, {
          log: {level: flags['log-level'], file: flags['log-file']},
          onMigrate: (file) => this.logToStderr(`applied migration ${file}`),
          onNote: (line) => this.logToStderr(line),
          waitForDbMs: flags['wait-for-db'] * 1000,
        }),
      (s) => `L01 data layer listening on ${s.url} (database: ${s.backend})`,
    )
  }
}
