import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {PlatformConfig} from '../core/index.js'
import {gatewayUrl, type Engine} from '../stack/index.js'

/** A five-second smoke run through the stack's gateway, after a patch: a failure text, or undefined when it passed. */
export async function smokeThroughGateway(config: PlatformConfig, engine: Engine, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const target = await gatewayUrl({engine, env})
  if (!target) return 'the stack has no running gateway that publishes its port'
  const {runSession} = await import('../loadtest/index.js')
  const report = join(mkdtempSync(join(tmpdir(), 'platform-patch-smoke-')), 'report')
  const r = await runSession(
    config,
    {profile: 'smoke', duration: '5s', target, thresholds: [], tolerance: 0.2, abortOnFail: true, report},
    {log: () => {}, progress: () => {}},
  )
  return r.summary.verdict.status === 'PASSED' ? undefined : r.summary.verdict.sentence
}
