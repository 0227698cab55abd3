import {Args, Flags} from '@oclif/core'
import {PlatformCommand, healthTimeoutFlag, patchDeps, patchesSwarm, swarmPatchDeps, style} from '../../src/cli/index.js'

export default class PatchApply extends PlatformCommand {
  static override summary = 'Copy changed files into a running service container, restart it, and roll back if it turns unhealthy'
  static override description = `Maps each local path to its container path (patch.mappings in platform.yaml, e.g. "dist/": "/app/dist/", \
or --to), saves the container's current copies, copies the new files in with one tar, restarts the container and waits until it is \
healthy (its Docker healthcheck, else its /health/ready), then reads every patched file back: one that its command or entrypoint \
rewrote at the start is named. If any check fails (or --smoke), the saved files are put back and the container restarted again; \
the command then exits 1. Every patch is recorded under .platform/patches/, and platform status / stack doctor show containers that \
carry patches their image lacks.

On a Swarm service (--swarm, mode: swarm, or a service of the swarm stack that the compose project lacks) a patch is an image: the \
service's image plus the files as one more layer, tagged patch-<id> and read back, recorded before anything changes, then rolled \
out by \`docker service update\` with the stack's policy (start-first, rollback on failure). It counts as applied when every replica \
runs it, healthy; when Swarm rolls it back the command says so and exits 1.`
  static override examples = [
    '<%= config.bin %> patch apply l01-data-layer dist/src/data-layer/app.js --to /app/dist/src/data-layer/app.js -m "fix goal list"',
    '<%= config.bin %> patch apply l09-api-gateway dist/ --smoke',
    '<%= config.bin %> patch apply web ./www --to /www/ --dry-run',
    '<%= config.bin %> patch apply l09-api-gateway dist/src/gateway/app.js --to /app/dist/src/gateway/app.js --swarm',
  ]
  static override strict = false
  static override args = {
    service: Args.string({description: 'the compose service whose container is patched', required: true}),
    path: Args.string({description: 'files or directories to copy (several allowed)', required: true}),
  }
  static override flags = {
    to: Flags.string({description: 'container path: the target file, or a directory (ending in /) for the files'}),
    message: Flags.string({char: 'm', description: 'why: kept in the ledger'}),
    'no-restart': Flags.boolean({description: 'copy only; no restart and no health gate'}),
    'health-timeout': healthTimeoutFlag(),
    smoke: Flags.boolean({description: 'after the restart, run a short smoke check through the gateway'}),
    'dry-run': Flags.boolean({description: 'show which files would go where, change nothing'}),
    force: Flags.boolean({description: 'patch a container of another compose project'}),
    swarm: Flags.boolean({description: 'patch the swarm stack service: a patched image, rolled out by Swarm'}),
    'pause-after-copy': Flags.integer({hidden: true, description: 'test fault injection: wait this many ms between copy and restart'}),
  }

  protected override exitCodeFor(r: {outcome: string}) {
    return r.outcome === 'applied' || r.outcome === 'dry-run' ? 0 : 1
  }

  async run() {
    const {args, argv, flags} = await this.parse(PatchApply)
    const paths = (argv as string[]).slice(1)
    const json = this.jsonEnabled()
    const config = this.config_()
    const out = {log: (l: string) => this.logToStderr(style.dim(l)), json}
    const options = {
      paths,
      to: flags.to,
      message: flags.message,
      restart: !flags['no-restart'],
      healthTimeoutMs: flags['health-timeout'] * 1000,
      smoke: flags.smoke,
      dryRun: flags['dry-run'],
      force: flags.force,
      cwd: process.cwd(),
    }
    if (await patchesSwarm(config, flags.swarm, args.service)) {
      const {applyImagePatch} = await import('../../src/patch/index.js')
      return this.report(await applyImagePatch(await swarmPatchDeps(config, out), args.service, options))
    }
    const deps = await patchDeps(config, out)
    if (flags['pause-after-copy']) deps.afterCopy = () => new Promise((r) => setTimeout(r, flags['pause-after-copy']))
    const {applyPatch} = await import('../../src/patch/index.js')
    return this.report(await applyPatch(deps, args.service, options))
  }

  private report(result: import('../../src/patch/index.js').ApplyResult) {
    for (const f of result.files)
      this.log(`  ${f.local ?? ''} -> ${result.container}:${f.path}${f.existed === false ? style.dim(' (new)') : ''}`)
    if (result.outcome === 'dry-run') this.log(style.dim('dry run: nothing was changed'))
    else if (result.outcome === 'applied')
      this.log(
        `${style.ok('✓')} patch ${result.id} applied to ${result.container}` +
          `${result.image ? ` as ${result.image}, every replica healthy` : '; it is healthy'}.`,
      )
    else {
      const back = result.outcome !== 'rollback-failed'
      this.logToStderr(`${style.bad(back ? 'Rolled back:' : 'Rollback failed:')} ${result.reason}`)
      if (back)
        this.logToStderr(
          `${result.container} ${result.image ? 'runs its previous image again' : 'has its previous files again and is healthy'}.`,
        )
    }
    return result
  }
}
