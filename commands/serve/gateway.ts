import {Flags} from '@oclif/core'
import {PlatformCommand, logLevelFlag} from '../../src/cli/index.js'

export default class ServeGateway extends PlatformCommand {
  static override summary = 'Run the L09 API gateway in the foreground'
  static override description = `Serves /api/v1 in front of an L01 data layer (default http://127.0.0.1:8001), as the gateway container \
does. Clients authenticate with a key from PLATFORM_API_KEYS (comma-separated), else the one kept in .platform/api.key. L01 is called \
with the internal key (L01_API_KEY, else .platform/internal.key); a mismatch stops the start with an error.`
  static override examples = [
    '<%= config.bin %> serve gateway',
    '<%= config.bin %> serve gateway --port 9009 --l01-url http://10.0.0.5:8001',
    'PLATFORM_API_KEYS=12345678901234567890123456789012 <%= config.bin %> serve gateway --timeout 2000',
  ]
  static override enableJsonFlag = false
  static override flags = {
    port: Flags.integer({description: 'port to listen on (default 8009, or gateway.port / L09_PORT)', min: 0, max: 65535}),
    host: Flags.string({description: 'address to listen on (default 127.0.0.1)'}),
    'l01-url': Flags.string({description: 'base URL of L01 (default: gateway.l01_url / L01_URL, else the local data layer)'}),
    timeout: Flags.integer({description: 'ms to wait for L01 before answering 503 (default 5000)', min: 1}),
    'log-level': logLevelFlag(),
    'log-file': Flags.string({description: 'append the JSON log lines to this file instead of stdout'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ServeGateway)
    const base = this.config_()
    const config = {
      ...base,
      gateway: {
        host: flags.host ?? base.gateway.host,
        port: flags.port ?? base.gateway.port,
        l01Url: flags['l01-url'] ?? base.gateway.l01Url,
        upstreamTimeoutMs: flags.timeout ?? base.gateway.upstreamTimeoutMs,
      },
    }
    const {startGateway} = await import('../../src/embedded/index.js')
    await this.serveUntilSignal(
      () => startGateway(config, {log: {level: flags['log-level'], file: flags['log-file']}}),
      (s) => `L09 gateway listening on ${s.url} (L01: ${s.backend})`,
    )
  }
}
