import {PlatformError, isErrorCode, isPlatformError, pollUntil} from '../core/index.js'
import {PROTOCOL_PATH, type GeneratorCommand, type Registration, type ReportBody} from './coordinator.js'
import {combineHealth, threadConfigs, threadGenerator, type GeneratorHandle} from './fleet.js'
import type {GeneratorHealth, IntervalReport} from './generator.js'
import {preflight} from './preflight.js'

export interface GeneratorOptions {
  /** the coordinator's URL, as it advertised it */
  coordinator: string
  token: string
  /** the API key for the target (from the environment or a Docker secret, never the command line) */
  apiKey: string
  /** the node (host) this generator runs on, for the report */
  node: string
  log?: (line: string) => void
  /** how long to keep trying to register while the coordinator cannot be reached */
  registerForMs?: number
}

/** A coordinator's refusal as the error it names, or a failure to reach it. */
async function call<T>(opts: GeneratorOptions, path: string, body: object): Promise<T> {
  let res: Response
  try {
    res = await fetch(`${opts.coordinator.replace(/\/+$/, '')}${PROTOCOL_PATH}/${path}`, {
      method: 'POST',
      headers: {authorization: `Bearer ${opts.token}`, 'content-type': 'application/json'},
      body: JSON.stringify(body),
    })
  } catch (err) {
    const cause = (err as {cause?: {code?: string; message?: string}}).cause
    throw new PlatformError(
      'ENVIRONMENT_UNAVAILABLE',
      `cannot reach the coordinator ${opts.coordinator}: ${cause?.code ?? cause?.message ?? err}`,
    )
  }
  const answer = (await res.json().catch(() => ({}))) as {error?: string; message?: string}
  if (res.ok) return answer as T
  const code = answer.error && isErrorCode(answer.error) ? answer.error : 'INTERNAL'
  throw new PlatformError(code, `the coordinator refused ${path}: ${answer.message ?? res.status}`)
}

/** The parts' signals, with this process's CPU time over wall time since `since`. */
function healthOf(parts: readonly IntervalReport[], last: GeneratorHealth, cpu0: NodeJS.CpuUsage, since: number): GeneratorHealth {
  const use = process.cpuUsage(cpu0)
  const wallS = Math.max(0.001, (Date.now() - since) / 1000)
  const h = parts.length ? combineHealth(parts.map((p) => p.health)) : last
  return {...h, cpu: Math.round(((use.user + use.system) / 1e6 / wallS) * 1000) / 1000}
}

/**
 * `platform test generator`: one generator of a distributed run. It registers, checks the
 * target, warms up, waits at the start barrier, sends what it measured every interval and
 * its last numbers at the end. It stops its load when the coordinator says so, or when the
 * coordinator cannot be reached for three intervals (no orphaned load).
 */
export async function runGenerator(opts: GeneratorOptions): Promise<{index: number; requests: number}> {
  const log = opts.log ?? (() => {})
  let reg: Registration | undefined
  let lastErr: unknown
  // The coordinator may still be starting (or its address not yet routed from a new container): retry what is not a refusal.
  await pollUntil(
    async () => {
      try {
        return (reg = await call<Registration>(opts, 'register', {node: opts.node}))
      } catch (err) {
        lastErr = err
        if (isPlatformError(err, 'ENVIRONMENT_UNAVAILABLE') || isPlatformError(err, 'UPSTREAM_UNAVAILABLE')) return undefined
        throw err
      }
    },
    {timeoutMs: opts.registerForMs ?? 30_000, everyMs: 500},
  )
  if (!reg) throw lastErr
  const {index, of, plan, intervalS} = reg
  log(`registered as generator ${index + 1} of ${of}: ${plan.target}`)
  const fail = async (err: unknown) => {
    const e = isPlatformError(err) ? err : new PlatformError('GENERATOR_LOST', (err as Error).message)
    await call(opts, 'fail', {index, code: e.code, message: e.message}).catch(() => {})
    throw e
  }

  let gen: GeneratorHandle
  try {
    await preflight(plan.target, opts.apiKey)
    gen = threadGenerator(threadConfigs(plan, opts.apiKey, index, of), `generator ${index + 1}`)
    await gen.ready
  } catch (err) {
    return fail(err)
  }
  try {
    const {startInMs, command} = await call<{startInMs: number; command: GeneratorCommand}>(opts, 'ready', {index})
    const since = Date.now() + startInMs
    const cpu0 = process.cpuUsage()
    gen.start(startInMs)
    if (command !== 'run') gen.stop(command === 'abandon')
    let health: GeneratorHealth = {lagP99Ms: 0, utilisation: 0, sends: 0, lateSends: 0}
    let requests = 0
    const count = (parts: IntervalReport[]) => {
      for (const p of parts) for (const c of Object.values(p.endpoints)) requests += c.count
      health = healthOf(parts, health, cpu0, since)
      return {index, parts, health} satisfies ReportBody
    }
    let finished = false
    const done = gen.done.finally(() => (finished = true))
    let unreachable = 0
    while (!finished) {
      await Promise.race([new Promise((r) => setTimeout(r, intervalS * 1000)), done])
      if (finished) break
      const body = count(await gen.collect())
      try {
        const {command: next} = await call<{command: GeneratorCommand}>(opts, 'report', body)
        unreachable = 0
        if (next !== 'run') gen.stop(next === 'abandon')
      } catch (err) {
        if (!isPlatformError(err, 'ENVIRONMENT_UNAVAILABLE') || ++unreachable < 3) continue
        gen.stop(true)
        throw new PlatformError('ENVIRONMENT_UNAVAILABLE', `lost the coordinator ${opts.coordinator} for three intervals; stopped`)
      }
    }
    const final = await done
    await call(opts, 'done', count(final.parts))
    log(`generator ${index + 1}: ${requests} requests`)
    return {index, requests}
  } catch (err) {
    return await fail(err)
  } finally {
    await gen.close()
  }
}
