import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {initProject} from '../../src/cli/index.js'
import {loadConfig, packageRoot} from '../../src/core/index.js'
import {composeEnv, composeFile, readServices} from '../../src/stack/index.js'

const project = () => mkdtempSync(join(tmpdir(), 'platform-init-stack-'))
const keys = {L01_API_KEY: 'internal-key-0123456789abcdef0123', PLATFORM_API_KEYS: 'api-key-0123456789abcdef01234567'}

describe('the stack of a project set up with `platform init --stack`', () => {
  it("is the project's own compose file, so its edits reach `up --docker`", () => {
    const root = project()
    initProject(root, {stack: true})
    const file = join(root, 'platform', 'docker-compose.app.yml')
    writeFileSync(file, `${readFileSync(file, 'utf8').replace(/^services:\n/m, 'services:\n  extra:\n    image: busybox:local\n')}`)
    const env = composeEnv(loadConfig({cwd: root, env: {}}), keys)
    expect(composeFile(env)).toBe(file)
    expect(readServices(env).map((s) => s.name)).toContain('extra')
  })

  it("is the package's where the project has none", () => {
    const root = project()
    initProject(root) // platform.yaml only
    const env = composeEnv(loadConfig({cwd: root, env: {}}), keys)
    expect(composeFile(env)).toBe(join(packageRoot(), 'platform', 'docker-compose.app.yml'))
    expect(readServices(env).map((s) => s.name)).toEqual(['postgres', 'l01-data-layer', 'l09-api-gateway', 'prometheus'])
  })
})
