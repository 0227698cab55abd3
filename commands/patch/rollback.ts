import {Args} from '@oclif/core'
import {PlatformCommand, healthTimeoutFlag, patchDeps, swarmPatchDeps, style} from '../../src/cli/index.js'

export default class PatchRollback extends PlatformCommand {
  static override summary = 'Undo a patch, or every active patch of a service, and restart with the health gate'
  static override description =
    'Later patches on the same files are undone first, so each file ends as it was before the patch. A patch of a Swarm service is ' +
    'undone by a rolling update back to the image the service ran before it.'
  static override examples = ['<%= config.bin %> patch rollback p-20261126-203000-1a2b', '<%= config.bin %> patch rollback l01-data-layer']
  static override args = {target: Args.string({description: 'a patch id, or a service', required: true})}
  static override flags = {'health-timeout': healthTimeoutFlag()}

  protected override exitCodeFor(r: {outcome: string}) {
    return r.outcome === 'reverted' ? 0 : 1
  }

  async run() {
    const {args, flags} = await this.parse(PatchRollback)
    const {isActive, listRecords, rollbackImagePatch, rollbackPatch} = await import('../../src/patch/index.js')
    const config = this.config_()
    const out = {log: (l: string) => this.logToStderr(style.dim(l)), json: this.jsonEnabled()}
    const opts = {healthTimeoutMs: flags['health-timeout'] * 1000}
    // A Swarm patch is an image: undoing it is a rolling update back to the image before it.
    const onSwarm = listRecords(config).some((r) => r.swarm && isActive(r) && (r.id === args.target || r.service === args.target))
    const r = onSwarm
      ? await rollbackImagePatch(await swarmPatchDeps(config, out), args.target, opts)
      : await rollbackPatch(await patchDeps(config, out), args.target, opts)
    if (r.outcome === 'reverted') this.log(`${style.ok('✓')} reverted ${r.reverted.join(', ')} on ${r.container}; it is healthy.`)
    else this.logToStderr(`${style.bad('Reverted, but the container is not healthy:')} ${r.reason}`)
    return r
  }
}
