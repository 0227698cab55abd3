import type {PlatformConfig, PlatformStatus} from '../core/index.js'
import type {StackDeps} from '../stack/index.js'

/** The runtime factory: the Docker engine client and compose, built once per command. */
export async function stackDeps(
  config: PlatformConfig,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StackDeps> {
  const {composeEnv, createEngine, detectCompose} = await import('../stack/index.js')
  const engine = await createEngine(env)
  await engine.ping()
  const stackEnv = composeEnv(config, env)
  return {config, engine, compose: await detectCompose(stackEnv), env: stackEnv, log}
}

/** stackDeps plus the Swarm half of the engine and the docker CLI (which turns a stack file into services). */
export async function swarmDeps(
  config: PlatformConfig,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<import('../stack/index.js').SwarmDeps> {
  const {cliRunner, createSwarmEngine} = await import('../stack/index.js')
  const deps = await stackDeps(config, log, env)
  return {...deps, swarm: await createSwarmEngine(deps.env), docker: cliRunner('docker', 'docker', [], deps.env)}
}

/** The Swarm stack is the target with --swarm or mode: swarm; it is never guessed, as a swarm is shared by many. */
export const useSwarm = (config: PlatformConfig, flag: boolean | undefined): boolean => Boolean(flag) || config.mode === 'swarm'

/**
 * The one rule for which platform up, down, status and logs act on: the Docker stack with --docker or
 * mode: docker. Otherwise up starts the embedded one, and the commands that act on what runs find it:
 * the embedded platform when it runs, else the stack when one exists (Docker or not), else embedded.
 */
export async function useDocker(
  config: PlatformConfig,
  flag: boolean | undefined,
  opts: {starting?: boolean; embedded?: PlatformStatus} = {},
): Promise<boolean> {
  if (flag || config.mode === 'docker') return true
  if (opts.starting) return false
  const {platformStatus} = await import('../embedded/index.js')
  if ((opts.embedded ?? (await platformStatus(config))).running) return false
  const {stackExistsAt} = await import('../stack/index.js')
  return stackExistsAt(process.env)
}

/** What the patch commands need: the engine, git, a smoke check through the stack's gateway, and their steps as a task list. */
export async function patchDeps(
  config: PlatformConfig,
  out: {log: (line: string) => void; json: boolean},
  env: NodeJS.ProcessEnv = process.env,
): Promise<import('../patch/index.js').PatchDeps> {
  const {createEngine} = await import('../stack/index.js')
  const {smokeThroughGateway} = await import('../patch/index.js')
  const engine = await createEngine(env)
  await engine.ping()
  const {execFile} = await import('node:child_process')
  const git = (args: string[]) =>
    new Promise<string | undefined>((resolve) =>
      execFile('git', args, {cwd: config.root}, (err, stdout) => resolve(err ? undefined : stdout.trim())),
    )
  const {stepRunner} = await import('./steps.js')
  return {
    config,
    engine,
    log: (line) => out.json || out.log(line),
    step: stepRunner({json: out.json}),
    git: async () => {
      const [commit, status] = await Promise.all([git(['rev-parse', 'HEAD']), git(['status', '--porcelain'])])
      return commit ? {commit, dirty: Boolean(status)} : undefined
    },
    smoke: () => smokeThroughGateway(config, engine, env),
  }
}

/** patchDeps plus the Swarm half of the engine: a patch of a Swarm service is a patched image rolled out by Swarm. */
export async function swarmPatchDeps(
  config: PlatformConfig,
  out: {log: (line: string) => void; json: boolean},
  env: NodeJS.ProcessEnv = process.env,
): Promise<import('../patch/index.js').SwarmPatchDeps> {
  const {createSwarmEngine} = await import('../stack/index.js')
  return {...(await patchDeps(config, out, env)), swarm: await createSwarmEngine(env)}
}

/**
 * Whether a patch of service goes to the Swarm stack: with --swarm or mode: swarm, or when the
 * swarm stack has the service and the compose project has no container of it.
 */
export async function patchesSwarm(
  config: PlatformConfig,
  flag: boolean | undefined,
  service: string,
  env = process.env,
): Promise<boolean> {
  if (useSwarm(config, flag)) return true
  const {STACK, createEngine, createSwarmEngine, projectContainers} = await import('../stack/index.js')
  if ((await projectContainers(await createEngine(env))).has(service)) return false
  const swarm = await createSwarmEngine(env)
  if (!(await swarm.info()).manager) return false
  return (await swarm.services(STACK)).some((s) => s.name === service)
}
