#!/usr/bin/env node
// Runs the CLI from the TypeScript sources (commands/, src/) through tsx; no build needed.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {register} from 'tsx/esm/api'

register()
const {execute, settings} = await import('@oclif/core')
const root = fileURLToPath(new URL('..', import.meta.url))
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
// oclif lists commands from oclif.manifest.json when its version matches, and that file
// describes the last build, not these sources. A "+dev" version makes oclif pass over it
// (with a warning, silenced here), and tsx, registered above, loads commands/*.ts as they are.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = (warning, ...rest) =>
  String(warning).startsWith('Mismatched version in') ? undefined : emitWarning(warning, ...rest)
settings.enableAutoTranspile = false
// The commands, hooks and help class as sources: ./dist/src/x.js is ./src/x.ts.
const source = (path) => path.replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts')
const fromSources = (oclif) => ({
  commands: './commands',
  helpClass: source(oclif.helpClass),
  hooks: Object.fromEntries(Object.entries(oclif.hooks).map(([name, path]) => [name, source(path)])),
})
await execute({
  development: true,
  loadOptions: {root, pjson: {...pjson, version: `${pjson.version}+dev`, oclif: {...pjson.oclif, ...fromSources(pjson.oclif)}}},
})
