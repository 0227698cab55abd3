import {Flags} from '@oclif/core'
import {PlatformCommand, stackDeps, swarmDeps, useDocker, useSwarm, style} from '../src/cli/index.js'
import {stopPlatform} from '../src/embedded/index.js'

export default class Down extends PlatformCommand {
  static override summary = 'Stop the platform: the detached embedded one, or the compose stack'
  static override description = `Embedded: SIGTERM (the services drain and close their database), then SIGKILL after --timeout. Docker \
(--docker, mode: docker, or a stack that exists while nothing runs embedded): compose down, and with --volumes its named volumes too \
(the data). Swarm (--swarm or mode: swarm): docker stack rm, then waits until the stack's tasks and networks are gone. \
Exits 0 when nothing runs.`
  static override examples = [
    '<%= config.bin %> down',
    '<%= config.bin %> down --timeout 5 --json',
    '<%= config.bin %> down --docker --volumes',
    '<%= config.bin %> down --swarm',
  ]
  static override flags = {
    timeout: Flags.integer({description: 'seconds to wait before forcing', default: 15, min: 1}),
    docker: Flags.boolean({description: 'stop the compose stack'}),
    swarm: Flags.boolean({description: 'remove the swarm stack platform and wait until its tasks are gone'}),
    volumes: Flags.boolean({description: 'with the stack: also remove its volumes (all data)'}),
  }

  async run() {
    const {flags} = await this.parse(Down)
    const config = this.config_()
    if (useSwarm(config, flags.swarm)) {
      const json = this.jsonEnabled()
      const {swarmDown} = await import('../src/stack/index.js')
      const deps = await swarmDeps(config, (l) => json || this.logToStderr(style.dim(l)))
      const r = await swarmDown(deps, {volumes: flags.volumes, timeoutMs: Math.max(flags.timeout, 90) * 1000})
      this.log(
        r.removed.length
          ? `${style.ok('Removed')} the swarm stack platform (${r.removed.join(', ')})` +
              `${flags.volumes ? ' and its volumes on this node' : ''}.`
          : style.dim('The swarm stack platform was not deployed.'),
      )
      return {mode: 'swarm', removed: r.removed, volumes: flags.volumes}
    }
    if (await useDocker(config, flags.docker || flags.volumes)) {
      const json = this.jsonEnabled()
      const {stackDown} = await import('../src/stack/index.js')
      const r = await stackDown(await stackDeps(config, (l) => json || this.logToStderr(style.dim(l))), {volumes: flags.volumes})
      this.log(
        r.removed.length
          ? `${style.ok('Removed')} ${r.removed.join(', ')}${flags.volumes ? ' and the volumes' : ''}.`
          : style.dim('Nothing of the stack was running.'),
      )
      return {mode: 'docker', removed: r.removed, volumes: flags.volumes}
    }
    const result = await stopPlatform(config, flags.timeout * 1000)
    if (result.stopped !== undefined)
      this.log(
        `${style.ok('Stopped')} the platform (pid ${result.stopped})${result.forced ? style.warn(' by force after the timeout') : ''}.`,
      )
    if (result.orphanDatabase) this.log(`${style.ok('Stopped')} the embedded PostgreSQL that a stopped platform left running.`)
    if (result.stopped === undefined && !result.orphanDatabase) this.log(style.dim('Nothing is running.'))
    return {stopped: result.stopped ?? null, forced: result.forced, orphanDatabase: result.orphanDatabase}
  }
}
