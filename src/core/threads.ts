import {Worker, type WorkerOptions} from 'node:worker_threads'

/**
 * A worker thread running the module `name` next to the caller (callerUrl = import.meta.url).
 * From built JavaScript that is name.js; from the TypeScript sources (dev mode, tests) it
 * is name.ts, started through ts-worker.mjs, which registers tsx in the new thread.
 */
export function startWorker(callerUrl: string, name: string, opts: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), opts)
  const entry = new URL(`./${name}.ts`, callerUrl).href
  return new Worker(new URL('./ts-worker.mjs', import.meta.url), {...opts, workerData: {...(opts.workerData as object), __entry: entry}})
}
