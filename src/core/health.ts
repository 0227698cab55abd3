/** What GET <url>/health/ready said: the status when it answered, else why it did not. */
export interface Readiness {
  healthy: boolean
  status?: number
  detail: string
}

export type HealthProbe = (url: string) => Promise<Readiness>

/** GET url/health/ready with a short timeout; never throws. */
export async function probeReady(url: string, timeoutMs = 2000): Promise<Readiness> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/health/ready`, {signal: AbortSignal.timeout(timeoutMs)})
    await res.arrayBuffer()
    return {healthy: res.status === 200, status: res.status, detail: `/health/ready answered ${res.status}`}
  } catch (err) {
    const e = err as Error
    return {healthy: false, detail: (e.cause as Error | undefined)?.message ?? e.message}
  }
}
