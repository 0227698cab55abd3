import {PlatformError, pollUntil, type Clock} from '../core/index.js'
import {PROJECT, readServices, type ServiceSpec} from './composefile.js'
import {judge, projectContainers} from './container.js'
import {misplaced} from './doctor.js'
import type {ContainerSummary} from './engine.js'
import {waitHealthy, type StackDeps, type Step} from './stack.js'

export interface RelocationPlan {
  service: string
  /** the container in the wrong project, when there still is one */
  from?: {project?: string; container: string; id: string; state: string; image: string; volumes: Array<{from: string; to: string}>}
  /** the steps, in words, for the plan people confirm */
  steps: string[]
  /** nothing to do: the service already runs healthy in the platform project, and nowhere else */
  done: boolean
}

async function oldContainer(deps: StackDeps, service: string, from?: string): Promise<ContainerSummary | undefined> {
  const wrong = misplaced(await deps.engine.containers({all: true}), service).filter((c) => !from || c.project === from || c.name === from)
  if (wrong.length > 1) {
    const places = wrong.map((c) => `${c.name} (${c.project ?? 'no project'})`).join(', ')
    throw new PlatformError('USAGE', `${service} runs in several places: ${places}`, {
      suggestion: `choose one with --from PROJECT`,
    })
  }
  return wrong[0]
}

/**
 * What relocating service into the platform project takes from where things stand now.
 * Computed afresh on every run, so a relocation interrupted at any step finishes when
 * run again.
 */
export async function planRelocation(
  deps: StackDeps,
  service: string,
  opts: {from?: string; carryVolumes?: boolean} = {},
): Promise<RelocationPlan> {
  await deps.engine.ping()
  const spec = readServices(deps.env).find((s) => s.name === service)
  if (!spec) {
    throw new PlatformError('USAGE', `${service} is not a service of the platform's compose file`, {
      suggestion: 'see `platform stack doctor` for what runs where',
    })
  }
  const old = await oldContainer(deps, service, opts.from)
  const mine = (await projectContainers(deps.engine)).get(service)
  // Started but not yet healthy (a run stopped during the wait) is not done: the wait is planned again.
  const mineHealthy = mine ? (await judge(deps, await deps.engine.inspect(mine.id))).status === 'healthy' : false
  const steps: string[] = []
  let from: RelocationPlan['from']
  if (old) {
    const detail = await deps.engine.inspect(old.id)
    const volumes = opts.carryVolumes
      ? spec.volumes.flatMap((v) => {
          const m = detail.mounts.find((mt) => mt.type === 'volume' && mt.destination === v.target)
          return m?.name ? [{from: m.name, to: `${PROJECT}_${v.name}`}] : []
        })
      : []
    from = {project: old.project, container: old.name, id: old.id, state: old.state, image: old.imageId, volumes}
    if (old.state === 'running') steps.push(`stop ${old.name} (project ${old.project ?? 'none'})`)
    for (const v of volumes) steps.push(`copy volume ${v.from} into ${v.to} (the old volume stays as it is)`)
    steps.push(`remove container ${old.name} (its volumes are kept)`)
  }
  if (!old && mineHealthy) return {service, steps: [], done: true}
  steps.push(`start ${service} in project ${PROJECT} (${deps.compose.flavour} up -d --no-deps ${service})`)
  steps.push(`wait until ${service} is healthy`)
  if (service === 'prometheus') steps.push('check that Prometheus scrapes l01-data-layer and l09-api-gateway')
  return {service, from, steps, done: false}
}

/** Prometheus's targets API shows both platform services up (polls while the first scrapes happen). */
export async function verifyPrometheusTargets(spec: ServiceSpec, timeoutMs = 60_000, clock?: Clock): Promise<string> {
  const port = spec.ports[0]?.host
  let last = 'no answer'
  const up = await pollUntil(
    async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/targets`, {signal: AbortSignal.timeout(3000)})
        const body = (await r.json()) as {data: {activeTargets: Array<{labels: {job: string}; health: string}>}}
        const up = (job: string) => body.data.activeTargets.some((t) => t.labels.job === job && t.health === 'up')
        const missing = ['l01-data-layer', 'l09-api-gateway'].filter((j) => !up(j))
        if (!missing.length) return 'l01-data-layer and l09-api-gateway are up'
        last = `not up yet: ${missing.join(', ')}`
      } catch (err) {
        last = (err as Error).message
      }
      return undefined
    },
    {timeoutMs, everyMs: 1000, clock},
  )
  if (up) return up
  throw new PlatformError('CHECK_FAILED', `Prometheus does not report both services up after ${timeoutMs / 1000} s (${last})`)
}

/** The plan as steps; each checks the state it needs, so running them again is safe. */
export function relocationSteps(deps: StackDeps, plan: RelocationPlan, opts: {timeoutMs?: number} = {}): Step[] {
  const spec = readServices(deps.env).find((s) => s.name === plan.service)!
  const steps: Step[] = []
  const old = plan.from
  if (old) {
    const stop = async () => ((await deps.engine.inspect(old.id)).state === 'running' ? deps.engine.stop(old.id) : 'already stopped')
    steps.push({title: `Stop ${old.container}`, run: stop})
    for (const v of old.volumes) {
      const labels = {'com.docker.compose.project': PROJECT, 'com.docker.compose.volume': v.to.slice(PROJECT.length + 1)}
      steps.push({title: `Copy volume ${v.from} to ${v.to}`, run: () => deps.engine.copyVolume(v.from, v.to, old.image, labels)})
    }
    steps.push({title: `Remove ${old.container}`, run: () => deps.engine.remove(old.id)})
  }
  const start = () => deps.compose.run(['up', '-d', '--no-deps', '--no-build', plan.service], {onLine: deps.log})
  steps.push({title: `Start ${plan.service} in project ${PROJECT}`, run: start})
  steps.push({
    title: `${plan.service} healthy`,
    run: () =>
      waitHealthy(deps, [spec], opts.timeoutMs ?? 120_000).catch((err: PlatformError) => {
        const message = `${err.message}\nThe old container's volumes were left untouched.`
        throw new PlatformError('CHECK_FAILED', message, {suggestion: err.suggestion})
      }),
  })
  if (plan.service === 'prometheus') {
    steps.push({title: 'Prometheus scrapes L01 and L09', run: () => verifyPrometheusTargets(spec, 60_000, deps.clock)})
  }
  return steps
}
