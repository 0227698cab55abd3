import {PlatformCommand} from '../src/cli/index.js'
import {apiKeyPath, gatewayKeys} from '../src/core/index.js'

export default class Key extends PlatformCommand {
  static override summary = 'Print the API key that L09 accepts here, for scripts'
  static override description = `The first key of PLATFORM_API_KEYS, else the one kept in .platform/api.key (created as \`up\` would \
create it). Send it as X-API-Key.`
  static override examples = ['<%= config.bin %> key', 'curl -H "X-API-Key: $(<%= config.bin %> key)" http://127.0.0.1:8009/api/v1/agents/']

  async run() {
    await this.parse(Key)
    const config = this.config_()
    const fromEnv = Boolean(process.env.PLATFORM_API_KEYS?.trim())
    const key = gatewayKeys(config)[0]!
    this.log(key)
    return {key, source: fromEnv ? 'PLATFORM_API_KEYS' : apiKeyPath(config)}
  }
}
