export * from './errors.js'
export * from './config.js'
export {packageRoot, packageVersion, migrationDirs, migrationsDir} from './paths.js'
export {
  readOrCreateKey,
  internalKey,
  internalKeyPath,
  generateKey,
  apiKeyPath,
  gatewayKeys,
  maskSecret,
  secretsFromFiles,
} from './secrets.js'
export {closeOnSignal, nextSignal, stopChild} from './lifecycle.js'
export {portFree, portHolder} from './ports.js'
export {startWorker} from './threads.js'
export type {PlatformStatus, ServiceStatus} from './status.js'
export {parseDuration} from './duration.js'
export {acquireLock, pidAlive} from './lockfile.js'
export {sha256} from './hash.js'
export {probeReady} from './health.js'
export type {HealthProbe, Readiness} from './health.js'
export {fileSize, readFileOr} from './files.js'
export {closest} from './closest.js'
export {pollUntil, systemClock} from './poll.js'
export type {Clock, PollOptions} from './poll.js'
export {TOPOLOGIES} from './topology.js'
export type {Topology} from './topology.js'
