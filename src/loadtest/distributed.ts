import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {hostname, networkInterfaces} from 'node:os'
import {join} from 'node:path'
import {PlatformError, packageRoot, pollUntil, sha256, stopChild} from '../core/index.js'
import type {SwarmEngine} from '../stack/index.js'
import {buildCoordinator} from './coordinator.js'
import type {Fleet} from './runner.js'

/** Where a run's generators come from: processes on this machine, or a Swarm service. */
export interface Launcher {
  /** what the log calls them */
  readonly where: string
  /** Starts `count` generators that register with the coordinator; `failed` reports one that died before it could. */
  launch(run: LaunchSpec, failed: (why: string) => void): Promise<void>
  /** Removes every generator it started, on every way out; idempotent. */
  remove(): Promise<void>
}

export interface LaunchSpec {
  count: number
  coordinator: string
  token: string
  apiKey: string
  runId: string
}

export interface DistributedFleet {
  /** the coordinator's URL, as the generators are given it */
  url: string
  fleet: Fleet
  /** removes the generators and stops the coordinator */
  close(): Promise<void>
}

/** The generator command's arguments: the coordinator and the run's token (the API key never goes on a command line). */
const generatorArgs = (run: LaunchSpec) => ['test', 'generator', '--coordinator', run.coordinator, '--token', run.token]

/**
 * Starts a run's coordinator on `address` (and only there) and returns the fleet the runner
 * asks for its generators: enrolling them launches them, and waits until all have registered.
 */
export async function distributedFleet(opts: {
  generators: number
  address: string
  intervalS: number
  launcher: Launcher
  log: (line: string) => void
  readyTimeoutMs?: number
}): Promise<DistributedFleet> {
  const token = randomBytes(24).toString('base64url')
  const coordinator = buildCoordinator({token, expected: opts.generators, intervalS: opts.intervalS, readyTimeoutMs: opts.readyTimeoutMs})
  const {server} = coordinator
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PlatformError('ENVIRONMENT_UNAVAILABLE', `the coordinator cannot listen on ${opts.address} (${err.code ?? err.message})`, {
          suggestion: 'pass --coordinator-address with an address of this machine that the generators can reach',
        }),
      ),
    )
    server.listen(0, opts.address, resolve)
  })
  const {port} = server.address() as {port: number}
  const url = `http://${opts.address.includes(':') ? `[${opts.address}]` : opts.address}:${port}`
  return {
    url,
    fleet: async (plan, {apiKey, signal}) => {
      const enrolled = coordinator.enrol(plan, signal)
      // A generator that dies before it registers fails the run at once, not at the registration timeout.
      const died = new Promise<never>((_, reject) => {
        const failed = (why: string) => reject(new PlatformError('GENERATOR_LOST', why))
        opts.launcher.launch({count: opts.generators, coordinator: url, token, apiKey, runId: plan.runId}, failed).catch(reject)
      })
      died.catch(() => {})
      opts.log(`${opts.generators} generator(s) ${opts.launcher.where}, coordinator ${url}`)
      return Promise.race([enrolled, died])
    },
    close: async () => {
      try {
        await opts.launcher.remove()
      } finally {
        server.closeAllConnections()
        server.close()
      }
    },
  }
}

/** The last lines a process wrote to stderr, for the sentence that says why it died. */
function stderrTail(child: ChildProcess): () => string {
  let tail = ''
  child.stderr?.on('data', (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-600)))
  return () => tail.trim().split('\n').slice(-3).join(' / ')
}

/** Generators as processes of this machine's `platform` (bin/run.js), the API key in their environment. */
export function processLauncher(bin = join(packageRoot(), 'bin', 'run.js')): Launcher {
  const children: ChildProcess[] = []
  return {
    where: 'as processes on this machine',
    launch: async (run, failed) => {
      for (let i = 0; i < run.count; i++) {
        const child = spawn(process.execPath, [bin, ...generatorArgs(run)], {
          env: {...process.env, PLATFORM_API_KEY: run.apiKey, PLATFORM_GENERATOR_NODE: hostname()},
          stdio: ['ignore', 'ignore', 'pipe'],
        })
        const tail = stderrTail(child)
        children.push(child)
        child.once('exit', (code, signal) => {
          if (code !== 0) failed(`generator process ${child.pid} exited (${signal ?? `code ${code}`}): ${tail() || 'no output'}`)
        })
      }
    },
    remove: async () => {
      await Promise.all(children.map((c) => stopChild(c, 5000)))
    },
  }
}

/** The Swarm service that runs a distributed run's generators. */
export const LOADGEN_SERVICE = 'platform-loadgen'
/** Where a generator task finds the API key: a Docker secret's file. */
const KEY_FILE = '/run/secrets/platform-loadgen-api-key'

/**
 * Generators as a Swarm service of `image`: N replicas spread over the nodes, never restarted
 * (a generator that dies is reported, not replaced mid-run), on `network` when given, the API
 * key a Docker secret. A task Swarm cannot run is reported as soon as Swarm says so.
 */
export function swarmLauncher(swarm: SwarmEngine, opts: {image: string; network?: string; log: (l: string) => void}): Launcher {
  let secret: string | undefined
  let watching: NodeJS.Timeout | undefined
  const remove = async () => {
    clearInterval(watching)
    await swarm.removeService(LOADGEN_SERVICE)
    // The secret goes once no task holds it any more.
    const name = secret
    if (name)
      await pollUntil(async () => ((await swarm.removeSecret(name).catch(() => false)) ? true : undefined), {
        timeoutMs: 10_000,
        everyMs: 500,
      })
  }
  return {
    where: `as the Swarm service ${LOADGEN_SERVICE} (${opts.image})`,
    launch: async (run, failed) => {
      if (await swarm.removeService(LOADGEN_SERVICE)) opts.log(`removed a ${LOADGEN_SERVICE} service left by an earlier run`)
      const labels = {'platform.loadgen.run': run.runId}
      secret = `platform-loadgen-key-${sha256(run.apiKey).slice(0, 12)}-${run.runId.slice(0, 8)}`
      const secretId = await swarm.createSecret(secret, run.apiKey, labels)
      await swarm.createService({
        Name: LOADGEN_SERVICE,
        Labels: labels,
        TaskTemplate: {
          ContainerSpec: {
            Image: opts.image,
            Args: generatorArgs(run),
            Env: [`PLATFORM_API_KEY_FILE=${KEY_FILE}`, 'PLATFORM_GENERATOR_NODE={{.Node.Hostname}}', 'PLATFORM_STATE_DIR=/tmp/platform'],
            Secrets: [{SecretID: secretId, SecretName: secret, File: {Name: KEY_FILE.split('/').pop()!, UID: '0', GID: '0', Mode: 0o444}}],
          },
          RestartPolicy: {Condition: 'none'},
          Placement: {Preferences: [{Spread: {SpreadDescriptor: 'node.id'}}]},
          ...(opts.network ? {Networks: [{Target: opts.network}]} : {}),
        },
        Mode: {Replicated: {Replicas: run.count}},
      } as Parameters<SwarmEngine['createService']>[0])
      watching = setInterval(() => {
        void swarm.tasks(LOADGEN_SERVICE).then(
          (tasks) => {
            const bad = tasks.find((t) => ['failed', 'rejected'].includes(t.state))
            if (bad) failed(`a ${LOADGEN_SERVICE} task on node ${bad.nodeId} ${bad.state}: ${bad.error ?? 'no reason given'}`)
          },
          () => {},
        )
      }, 1000)
    },
    remove,
  }
}

/**
 * The address a swarm's generators reach this machine by: its node address when that is one of
 * this machine's and not loopback; on a single-node swarm advertised on loopback, the address
 * of docker_gwbridge, the bridge every task's container leaves its node through.
 */
export function swarmCoordinatorAddress(
  nodeAddr: string | undefined,
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string {
  const local = Object.values(interfaces)
    .flat()
    .map((i) => i?.address)
  if (nodeAddr && local.includes(nodeAddr) && !nodeAddr.startsWith('127.')) return nodeAddr
  const bridge = interfaces.docker_gwbridge?.find((i) => i.family === 'IPv4')?.address
  if (nodeAddr?.startsWith('127.') && bridge) return bridge
  throw new PlatformError('USAGE', `this machine does not have the swarm's node address${nodeAddr ? ` ${nodeAddr}` : ''}`, {
    suggestion: 'pass --coordinator-address with an address of this machine that the swarm nodes can reach',
  })
}
