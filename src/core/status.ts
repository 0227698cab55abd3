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
}

export interface PlatformStatus {
  mode: 'embedded' | 'docker'
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
