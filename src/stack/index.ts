export {createEngine, dockerHost, demux} from './engine.js'
export type {Engine, ContainerSummary, ContainerDetail, PortBinding} from './engine.js'
export {cliRunner, detectCompose} from './compose.js'
export type {Compose} from './compose.js'
export {PROJECT, composeFile, readServices, interpolate} from './composefile.js'
export type {ServiceSpec} from './composefile.js'
export {composeEnv, stageBuildContext} from './build.js'
export {upSteps, stackDown, stackStatus, stackLogs, stackExists, stackExistsAt, preflight, waitHealthy, gatewayUrl} from './stack.js'
export {
  containerLockPath,
  describeOwner,
  findServiceContainer,
  isInstanceOf,
  judge,
  mustRun,
  portOwner,
  projectContainers,
  restartAndWait,
  waitContainerHealthy,
  withContainerLock,
} from './container.js'
export type {LifecycleDeps, PortOwner, Verdict} from './container.js'
export type {StackDeps, Step, UpOptions} from './stack.js'
export {doctor, misplaced} from './doctor.js'
export type {Finding, FindingKind} from './doctor.js'
export {planRelocation, relocationSteps, verifyPrometheusTargets} from './relocate.js'
export type {RelocationPlan} from './relocate.js'
export {packFiles, unpackFiles} from './tarball.js'
export type {TarFile} from './tarball.js'
export {FakeClock, FakeEngine, fakeCompose} from './fake-engine.js'
export type {FakeContainer, FakeContainerInit, FakeFiles} from './fake-engine.js'
export {STACK, parseReplicas, renderStackFile, swarmPrometheusConfig, DEFAULT_REPLICAS, SECRET_VARS} from './stackfile.js'
export type {StackFileOptions, SecretName} from './stackfile.js'
export {createSwarmEngine, taskOfLine} from './swarm-engine.js'
export type {SwarmEngine, SwarmNode, SwarmService, SwarmTask} from './swarm-engine.js'
export {
  ensureManager,
  localTaskContainers,
  swarmDown,
  swarmLogs,
  swarmStatus,
  swarmUpSteps,
  waitConverged,
  writeStackFile,
} from './swarm.js'
export type {SwarmDeps, SwarmUpOptions} from './swarm.js'
export {misplacedServices, stackPorts, swarmFindings, swarmRelocationSteps} from './swarm-doctor.js'
