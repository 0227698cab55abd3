/**
 * Starts one throwaway PostgreSQL cluster for the run and hands its URL to the tests.
 * Outside CI a missing PostgreSQL skips the pg half of the db tier with a line saying how
 * to enable it; with CI=true it is a failure.
 */
import type {TestProject} from 'vitest/node'
import {findPgBin, startCluster, type Cluster} from './postgres.js'
import {ourPostmasters, stopLeftPostmasters} from './postmasters.js'
import {missingService} from './tiers.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string | undefined
  }
}

let cluster: Cluster | undefined
let postmastersBefore = new Set<number>()

export async function setup(project: TestProject): Promise<void> {
  postmastersBefore = new Set(ourPostmasters().map((p) => p.pid))
  project.provide('pgUrl', undefined)
  if (!findPgBin())
    return missingService('PostgreSQL is not installed', 'Install postgresql-15, or run `npm test` as root (it installs it).')
  cluster = await startCluster()
  project.provide('pgUrl', cluster.url)
}

export async function teardown(): Promise<void> {
  cluster?.destroy()
  stopLeftPostmasters(postmastersBefore)
}
