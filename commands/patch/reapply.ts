import {Args} from '@oclif/core'
import {PlatformCommand, healthTimeoutFlag, patchDeps, style} from '../../src/cli/index.js'

export default class PatchReapply extends PlatformCommand {
  static override summary = "Re-apply a service's active patches after its container was recreated"
  static override description =
    'Puts the patches recorded for an older container of the service onto its current one, in order, ' +
    'with the health gate and rollback of patch apply.'
  static override examples = ['<%= config.bin %> patch reapply l01-data-layer']
  static override args = {service: Args.string({description: 'the compose service', required: true})}
  static override flags = {'health-timeout': healthTimeoutFlag()}

  protected override exitCodeFor(r: {patches: string[]; outcome: string}) {
    return r.patches.length === 0 || r.outcome === 'applied' ? 0 : 1
  }

  async run() {
    const {args, flags} = await this.parse(PatchReapply)
    const {reapplyPatches} = await import('../../src/patch/index.js')
    const deps = await patchDeps(this.config_(), {log: (l) => this.logToStderr(style.dim(l)), json: this.jsonEnabled()})
    const r = await reapplyPatches(deps, args.service, {healthTimeoutMs: flags['health-timeout'] * 1000})
    if (r.patches.length === 0) this.log(style.dim(`No patches to re-apply: ${r.container} carries every active patch of ${args.service}.`))
    else if (r.outcome === 'applied') this.log(`${style.ok('✓')} re-applied ${r.patches.join(', ')} to ${r.container} as ${r.id}.`)
    else this.logToStderr(`${style.bad(r.outcome)}: ${r.reason}`)
    return r
  }
}
