/**
 * stack doctor's Swarm findings, over a hand-written SwarmEngine double: the engine's real
 * answers (services, stacks, ports) are proven by test/docker/swarm.test.ts, where the same
 * findings are read from a real swarm. Here: the cases that need two modes or foreign services at once.
 */
import {describe, expect, it} from 'vitest'
import {swarmFindings, type ContainerSummary, type SwarmEngine, type SwarmService} from '../../src/stack/index.js'

const svc = (fullName: string, stack: string | undefined, ports: number[] = []): SwarmService => ({
  id: fullName,
  name: stack ? fullName.slice(stack.length + 1) : fullName,
  ...(stack ? {stack} : {}),
  fullName,
  image: 'img',
  desired: 1,
  ports: ports.map((p) => ({published: p, target: p})),
  labels: {},
})
const swarmOf = (services: SwarmService[], manager = true) =>
  ({
    info: async () => ({state: manager ? 'active' : 'inactive', manager}),
    services: async (stack?: string) => services.filter((s) => !stack || s.stack === stack),
  }) as unknown as SwarmEngine
const env = {L09_HOST_PORT: '18009', PROMETHEUS_HOST_PORT: '19090'}
const composeL01 = {project: 'platform', state: 'running', name: 'platform_l01-data-layer_1'} as ContainerSummary

describe("stack doctor's Swarm findings", () => {
  it('none on an engine in no swarm', async () => {
    expect(await swarmFindings({swarm: swarmOf([svc('x_prometheus', 'x')], false), env}, [composeL01])).toEqual([])
  })

  it('the platform running both as the compose project and as the swarm stack', async () => {
    const swarm = swarmOf([svc('platform_l01-data-layer', 'platform')])
    const findings = await swarmFindings({swarm, env}, [composeL01])
    expect(findings.map((f) => f.kind)).toEqual(['two-modes'])
    expect(findings[0]!.fix).toContain('platform down --docker')
    expect(await swarmFindings({swarm, env}, [])).toEqual([])
  })

  it('a platform service under another stack, or in none (named by itself), with the relocation that fixes it', async () => {
    const findings = await swarmFindings(
      {swarm: swarmOf([svc('story_prometheus', 'story', [19090]), svc('prometheus', undefined)]), env},
      [],
    )
    expect(findings.map((f) => [f.kind, f.fix]).sort()).toEqual([
      ['wrong-stack', 'platform stack relocate prometheus --from-stack prometheus'],
      ['wrong-stack', 'platform stack relocate prometheus --from-stack story'],
    ])
  })

  it("a stack port published by another service, but not by the platform's own", async () => {
    const swarm = swarmOf([svc('platform_l09-api-gateway', 'platform', [18009]), svc('web_nginx', 'web', [19090])])
    const findings = await swarmFindings({swarm, env}, [])
    expect(findings).toHaveLength(1)
    expect(findings[0]).toMatchObject({kind: 'port-conflict', service: 'prometheus'})
    expect(findings[0]!.fix).toContain('docker service update --publish-rm 19090 web_nginx')
  })
})
