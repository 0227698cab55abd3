// Preloaded with --import: records every module URL the process resolves into $TRACE_IMPORTS.
// The start-up test reads it to prove that --help and --version load no server or database code.
import {register} from 'node:module'

register(
  'data:text/javascript,' +
    encodeURIComponent(`
  import {appendFileSync} from 'node:fs'
  export async function resolve(specifier, context, next) {
    const r = await next(specifier, context)
    appendFileSync(process.env.TRACE_IMPORTS, r.url + '\\n')
    return r
  }
`),
)
