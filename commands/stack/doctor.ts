import {PlatformCommand, stackDeps, style, table} from '../../src/cli/index.js'

export default class StackDoctor extends PlatformCommand {
  static override summary = 'Find platform services in the wrong compose project, port conflicts, orphans and stale containers'
  static override description = `Looks at every container of the Docker engine. For each service of platform/docker-compose.app.yml it \
reports containers that run it under another compose project (by the com.docker.compose.* labels, and by name), host ports of the \
platform held by something else, orphans of the platform project, and containers older than their image, and containers that carry hot \
patches their image lacks (drift). On a swarm manager it also reports platform services deployed under another stack, the platform \
running both as the compose project and as the swarm stack, published ports taken by another service, and swarm services that run a \
patched image (drift). Each finding comes with the command that fixes it. Exits 1 when there is a finding.`
  static override examples = ['<%= config.bin %> stack doctor', '<%= config.bin %> stack doctor --json']

  protected override exitCodeFor(r: {ok: boolean}) {
    return r.ok ? 0 : 1
  }

  async run() {
    await this.parse(StackDoctor)
    const {createSwarmEngine, doctor, stackPorts, swarmFindings} = await import('../../src/stack/index.js')
    const deps = await stackDeps(this.config_(), () => {})
    const swarm = {swarm: await createSwarmEngine(deps.env), env: deps.env}
    const {findDrift, findImageDrift} = await import('../../src/patch/index.js')
    const extra = async (_specs: unknown, containers: import('../../src/stack/index.js').ContainerSummary[]) => [
      ...findDrift(deps.config, containers),
      ...(await swarmFindings(swarm, containers)),
      ...(await findImageDrift(deps.config, swarm.swarm)),
    ]
    const result = await doctor(deps, extra, await stackPorts(swarm.swarm))
    if (result.findings.length === 0) this.log(`${style.ok('✓')} no problems among ${result.containers} containers`)
    else {
      const rows = result.findings.map((f) => [style.bad(f.kind), f.service ?? '-', f.message, f.fix])
      this.log(table(['problem', 'service', 'what', 'fix'], rows))
    }
    return {ok: result.findings.length === 0, containers: result.containers, findings: result.findings}
  }
}
