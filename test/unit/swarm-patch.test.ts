/** The plan of a patch of a Swarm service, as an image; its rollout on a real swarm is test/docker/swarm.test.ts's. */
import {describe, expect, it} from 'vitest'
import {patchImageRef, planImagePatch, registryOf} from '../../src/patch/index.js'
import type {SwarmService} from '../../src/stack/index.js'

describe('a patch of a Swarm service as an image', () => {
  it("tags the base's repository patch-<id>, registry and path kept, tag and digest dropped", () => {
    expect(patchImageRef('platform-app:test', 'p-1')).toBe('platform-app:patch-p-1')
    expect(patchImageRef('platform-app', 'p-1')).toBe('platform-app:patch-p-1')
    expect(patchImageRef('registry.local:5000/team/platform-app:1.2', 'p-1')).toBe('registry.local:5000/team/platform-app:patch-p-1')
    expect(patchImageRef('registry.local:5000/platform-app', 'p-1')).toBe('registry.local:5000/platform-app:patch-p-1')
    expect(patchImageRef(`platform-app:test@sha256:${'a'.repeat(64)}`, 'p-1')).toBe('platform-app:patch-p-1')
    // A patch of a patched service builds on it: the new tag replaces the old one.
    expect(patchImageRef('platform-app:patch-p-1', 'p-2')).toBe('platform-app:patch-p-2')
  })

  it('plans from the image the service runs now, with each file, its hash and labels that name the base', () => {
    const service: SwarmService = {
      id: 's1',
      name: 'l09-api-gateway',
      fullName: 'platform_l09-api-gateway',
      image: 'platform-app:patch-p-1',
      desired: 2,
      ports: [],
      labels: {},
    }
    const content = Buffer.from('x')
    const plan = planImagePatch(service, [{local: '/w/app.js', target: '/app/app.js', mode: 0o644, sha256: 'abc', content}], 'p-2')
    expect(plan).toEqual({
      id: 'p-2',
      service: 'l09-api-gateway',
      base: 'platform-app:patch-p-1',
      ref: 'platform-app:patch-p-2',
      labels: {'platform.patch': 'p-2', 'platform.patch.base': 'platform-app:patch-p-1', 'platform.patch.service': 'l09-api-gateway'},
      files: [{path: '/app/app.js', local: '/w/app.js', sha256: 'abc', mode: 0o644}],
    })
  })

  it('is pushed to the registry its base came from, and kept local when the base is local', () => {
    expect(registryOf('registry.local:5000/platform-app:patch-p-1')).toBe('registry.local:5000')
    expect(registryOf('10.77.0.1:5000/platform-app:1')).toBe('10.77.0.1:5000')
    expect(registryOf('localhost/platform-app:1')).toBe('localhost')
    expect(registryOf('platform-app:patch-p-1')).toBeUndefined()
    expect(registryOf('team/platform-app:1')).toBeUndefined()
  })
})
