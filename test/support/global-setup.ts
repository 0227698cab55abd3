/**
 * Starts the services the tiers share (a PostgreSQL cluster) and hands their addresses to
 * the tests. Outside CI a missing PostgreSQL skips the pg half of the db tier with a line
 * saying how to enable it; with CI=true it is a failure.
 */
import type {TestProject} from 'vitest/node'
import {findPgBin, startCluster, type Cluster} from './postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string | undefined
  }
}

let cluster: Cluster | undefined

export async function setup(project: TestProject): Promise<void> {
  if (!findPgBin()) {
    if (process.env.CI === 'true') throw new Error('CI=true but PostgreSQL is not installed: run the README test command (npm test), which installs it')
    console.warn('[platform tests] PostgreSQL not found: pg tests are skipped. Install postgresql-15 (or run `npm test` as root) to enable them.')
    project.provide('pgUrl', undefined)
    return
  }
  cluster = await startCluster()
  project.provide('pgUrl', cluster.url)
}

export async function teardown(): Promise<void> {
  cluster?.destroy()
}
