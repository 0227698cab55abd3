/**
 * Starts the services the tiers share, once per run, and hands their addresses to the
 * tests: a PostgreSQL cluster, and a private Docker engine with the offline test images.
 * Outside CI a missing service skips its tests with a line saying how to enable it;
 * with CI=true it is a failure.
 */
import type {TestProject} from 'vitest/node'
import {buildTestImages, dockerAvailable, startDockerd, type Dockerd, type TestImages} from './docker.js'
import {findPgBin, startCluster, type Cluster} from './postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string | undefined
    dockerHost: string | undefined
    images: TestImages | undefined
  }
}

const CI = process.env.CI === 'true'
let cluster: Cluster | undefined
let dockerd: Dockerd | undefined

function missing(what: string, how: string): void {
  if (CI) throw new Error(`CI=true but ${what}: ${how}`)
  console.warn(`[platform tests] ${what}: its tests are skipped. ${how}`)
}

export async function setup(project: TestProject): Promise<void> {
  project.provide('pgUrl', undefined)
  project.provide('dockerHost', undefined)
  project.provide('images', undefined)
  if (findPgBin()) {
    cluster = await startCluster()
    project.provide('pgUrl', cluster.url)
  } else missing('PostgreSQL is not installed', 'Install postgresql-15, or run `npm test` as root (it installs it).')

  // Warm (daemon and image cache left from an earlier run) this takes about a second.
  if (dockerAvailable()) {
    dockerd = await startDockerd()
    project.provide('dockerHost', dockerd.host)
    project.provide('images', await buildTestImages(dockerd.host))
  } else missing('Docker is not available', 'Run `npm test` as root: it installs docker.io and the tests start dockerd themselves.')
}

export async function teardown(): Promise<void> {
  cluster?.destroy()
  dockerd?.stop()
}
