import {Flags} from '@oclif/core'
import {PlatformCommand, renderStatus, stackDeps, swarmDeps, useDocker, useSwarm} from '../src/cli/index.js'
import type {PlatformStatus} from '../src/core/index.js'
import {platformStatus} from '../src/embedded/index.js'

export default class Status extends PlatformCommand {
  static override summary = 'Show each service, its URL, health, mode, database and uptime'
  static override description = `Embedded mode: health from each service's /health/ready. Docker mode (--docker, mode: docker, or a stack \
that exists while nothing runs embedded): container, compose project, state, health, ports, image and uptime of each service. Exits 0 \
when every service is healthy. Swarm (--swarm or mode: swarm): per service, replicas running/desired, image and its id, published \
ports, the last update's state and the tasks that failed lately. Exits 0 when every service is healthy, 1 when one is not, and 3 \
when nothing runs; --json prints the document either way.`
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json',
    '<%= config.bin %> status --docker',
    '<%= config.bin %> status --swarm --json',
  ]
  static override flags = {
    docker: Flags.boolean({description: 'report the compose stack'}),
    swarm: Flags.boolean({description: 'report the swarm stack: replicas, image, ports, update state, failed tasks'}),
  }

  /** Usable as a check in scripts, as `supabase status` is. */
  protected override exitCodeFor(s: PlatformStatus) {
    if (!s.running) return 3
    return s.services.every((svc) => svc.health === 'healthy') ? 0 : 1
  }

  async run() {
    const {flags} = await this.parse(Status)
    const config = this.config_()
    if (useSwarm(config, flags.swarm)) {
      const {swarmStatus} = await import('../src/stack/index.js')
      const {countImagePatches} = await import('../src/patch/index.js')
      return this.report(countImagePatches(config, await swarmStatus(await swarmDeps(config, () => {}))))
    }
    const embedded = await platformStatus(config)
    if (!(await useDocker(config, flags.docker, {embedded}))) return this.report(embedded)
    const {stackStatus} = await import('../src/stack/index.js')
    const {countPatches} = await import('../src/patch/index.js')
    const deps = await stackDeps(config, () => {})
    return this.report(countPatches(config, await stackStatus(deps), await deps.engine.containers({project: 'platform'})))
  }

  private report(status: PlatformStatus): PlatformStatus {
    this.log(renderStatus(status))
    return status
  }
}
