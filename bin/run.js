#!/usr/bin/env node
// `platform --version` (or -v) is answered here without loading oclif: scripts and CI call it often.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-v')) {
  const {readFileSync} = await import('node:fs')
  const {name, version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  console.log(`${name}/${version} ${process.platform}-${process.arch} node-${process.version}`)
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
