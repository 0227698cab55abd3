import {PlatformError, pollUntil, probeReady, type Readiness} from '../core/index.js'

/** Health and key, before any load: a run against a dead target or with a wrong key stops in seconds. */
export async function preflight(target: string, apiKey: string): Promise<void> {
  const base = target.replace(/\/+$/, '')
  let ready: Readiness = {healthy: false, detail: 'not asked'}
  await pollUntil(async () => ((ready = await probeReady(base, 3000)).healthy ? ready : undefined), {attempts: 3, everyMs: 500})
  if (!ready.healthy) {
    throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `the target ${base} is not ready: ${ready.detail}`, {
      suggestion: 'start it (platform up) or check --target',
    })
  }
  const probe = await fetch(`${base}/api/v1/agents/?limit=1`, {headers: {'x-api-key': apiKey}, signal: AbortSignal.timeout(5000)})
  await probe.arrayBuffer()
  if (probe.status === 401) {
    throw new PlatformError('UNAUTHORIZED', `the target ${base} refused the API key`, {
      suggestion: 'pass the right key with --api-key or PLATFORM_API_KEY',
    })
  }
}
