import {PlatformCommand, dbFlags, withDbFlags, style, table} from '../src/cli/index.js'
import {KEYS, maskSecret} from '../src/core/index.js'

export default class Config extends PlatformCommand {
  static override summary = 'Show the effective configuration: each key, its value and where it came from'
  static override description = `Each key of platform.yaml with the value in effect and its source: default, file (platform.yaml), \
environment (the variable named) or flag. Passwords in URLs are masked.`
  static override examples = ['<%= config.bin %> config', '<%= config.bin %> config --json', 'L09_PORT=18009 <%= config.bin %> config']
  static override flags = dbFlags

  async run() {
    const {flags} = await this.parse(Config)
    const config = withDbFlags(this.config_(), flags)
    // In the order of platform.yaml's keys.
    const known = Object.keys(KEYS).filter((key) => config.settings[key])
    const masked = (key: string) => ({...config.settings[key]!, value: maskSecret(config.settings[key]!.value)})
    const settings = Object.fromEntries(known.map((key) => [key, masked(key)]))
    const shown = (v: unknown) => (v === undefined ? style.dim('(not set)') : typeof v === 'object' ? JSON.stringify(v) : String(v))
    const origin = (s: {source: string; from?: string}) => s.source + (s.from && s.source !== 'file' ? ` (${s.from})` : '')
    const rows = Object.entries(settings).map(([key, s]) => [key, shown(s.value), origin(s)])
    this.log(table(['key', 'value', 'source'], rows))
    this.log(style.dim(config.file ? `file: ${config.file}` : 'no platform.yaml here (`platform init` writes one)'))
    return {file: config.file ?? null, settings}
  }
}
