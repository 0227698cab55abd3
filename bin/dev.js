#!/usr/bin/env node
// Runs the CLI from the TypeScript sources (commands/, src/) through tsx; no build needed.
import {readFileSync, rmSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {register} from 'tsx/esm/api'

register()
const {execute, settings} = await import('@oclif/core')
const root = fileURLToPath(new URL('..', import.meta.url))
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
// oclif lists commands from oclif.manifest.json when there is one, and that file describes
// the last build, not these sources: drop it (`npm run build` writes it again). tsx is
// registered above, so oclif loads commands/*.ts as they are.
rmSync(new URL('../oclif.manifest.json', import.meta.url), {force: true})
settings.enableAutoTranspile = false
await execute({development: true, loadOptions: {root, pjson: {...pjson, oclif: {...pjson.oclif, commands: './commands'}}}})
