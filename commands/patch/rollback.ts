import {Args} from '@oclif/core'
import {PlatformCommand, healthTimeoutFlag, patchDeps, style} from '../../src/cli/index.js'

export default class PatchRollback extends PlatformCommand {
  static override summary = 'Undo a patch, or every active patch of a service, and restart with the health gate'
  static override description = 'Later patches on the same files are undone first, so each file ends as it was before the patch.'
  static override examples = ['<%= config.bin %> patch rollback p-20261126-203000-1a2b', '<%= config.bin %> patch rollback l01-data-layer']
  static override args = {target: Args.string({description: 'a patch id, or a service', required: true})}
  static override flags = {'health-timeout': healthTimeoutFlag()}

  protected override exitCodeFor(r: {outcome: string}) {
    return r.outcome === 'reverted' ? 0 : 1
  }

  async run() {
    const {args, flags} = await this.parse(PatchRollback)
    const {rollbackPatch} = await import('../../src/patch/index.js')
    const deps = await patchDeps(this.config_(), {log: (l) => this.logToStderr(style.dim(l)), json: this.jsonEnabled()})
    const r = await rollbackPatch(deps, args.target, {healthTimeoutMs: flags['health-timeout'] * 1000})
    if (r.outcome === 'reverted') this.log(`${style.ok('✓')} reverted ${r.reverted.join(', ')} on ${r.container}; it is healthy.`)
    else this.logToStderr(`${style.bad('Reverted, but the container is not healthy:')} ${r.reason}`)
    return r
  }
}
