// Worker entry used when running from the TypeScript sources (bin/dev.js, tests): registers
// tsx in this thread, then loads the real entry. Built code starts its .js entries directly.
import {workerData} from 'node:worker_threads'
import {register} from 'tsx/esm/api'

register()
await import(workerData.__entry)
