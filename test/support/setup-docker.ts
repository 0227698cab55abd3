/**
 * Starts (or reuses) a private Docker engine with the offline test images for the docker
 * tier, and stops it afterwards if this run started it. Outside CI a missing Docker skips
 * the tier with a line saying how to enable it; with CI=true it is a failure.
 */
import type {TestProject} from 'vitest/node'
import {buildTestImages, dockerAvailable, startDockerd, type Dockerd, type TestImages} from './docker.js'
import {missingService} from './tiers.js'

declare module 'vitest' {
  export interface ProvidedContext {
    dockerHost: string | undefined
    images: TestImages | undefined
  }
}

let dockerd: Dockerd | undefined

export async function setup(project: TestProject): Promise<void> {
  project.provide('dockerHost', undefined)
  project.provide('images', undefined)
  if (!dockerAvailable())
    return missingService(
      'Docker is not available',
      'Run `npm test` as root: it installs docker.io and the tests start dockerd themselves.',
    )
  dockerd = await startDockerd()
  project.provide('dockerHost', dockerd.host)
  project.provide('images', await buildTestImages(dockerd.host))
}

export async function teardown(): Promise<void> {
  dockerd?.stop()
}
