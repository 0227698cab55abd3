/** What `platform status` reports, in the same shape for both modes. */

export interface ServiceStatus {
  name: string
  url?: string
  state: string
  health: 'healthy' | 'unhealthy' | 'starting' | 'unknown'
  detail?: string
  uptimeSeconds?: number
  /** docker mode: the container, its compose project, image and published ports */
  container?: string
  project?: string
  image?: string
  ports?: string[]
  /** hot patches this container carries that its image does not (drift) */
  patches?: number
  /** swarm mode: tasks running (healthy) against the replicas wanted */
  replicas?: {running: number; desired: number}
  /** swarm mode: the local id of the image the service runs */
  digest?: string
  /** swarm mode: the state of the last update (updating, completed, paused, rollback_completed, ...) */
  update?: string
  /** swarm mode: tasks that failed in the last 15 minutes, newest first */
  failedTasks?: Array<{task: string; error: string; at: string}>
}

export interface PlatformStatus {
  mode: 'embedded' | 'docker' | 'swarm'
  running: boolean
  pid?: number
  topology?: string
  startedAt?: string
  uptimeSeconds?: number
  database?: string
  /** embedded mode: the database engine, its version, data directory and port */
  engine?: {engine: string; description: string; version?: string; dataDir?: string; port?: number}
  logFile?: string
  apiKeyFile: string
  services: ServiceStatus[]
}
