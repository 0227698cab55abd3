import type {PlatformConfig} from '../core/index.js'
import type {StackDeps} from '../stack/index.js'

/** The runtime factory: the Docker engine client and compose, built once per command. */
export async function stackDeps(config: PlatformConfig, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<StackDeps> {
  const {composeEnv, createEngine, detectCompose} = await import('../stack/index.js')
  const engine = await createEngine(env)
  await engine.ping()
  const stackEnv = composeEnv(config, env)
  return {config, engine, compose: await detectCompose(stackEnv), env: stackEnv, log}
}

/** Whether a command should act on the Docker stack: --docker, mode: docker, or (guessing) a stack that exists while nothing runs embedded. */
export async function useDocker(config: PlatformConfig, flag: boolean | undefined, guess: () => Promise<boolean>): Promise<boolean> {
  if (flag || config.mode === 'docker') return true
  return guess()
}
