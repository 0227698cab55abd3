/**
 * Entry of a worker thread that hosts services: one (threads topology), or L01 and L09
 * together (shared topology, L09 calling L01 in-process). Starts them with the
 * configuration it was given, reports ready (or the error), and closes them, L09 first,
 * when told to.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {PlatformError} from '../core/index.js'
import {startBoth, startDataLayer, startGateway, type RunningService, type ServiceName} from './services.js'
import type {PlatformConfig} from '../core/index.js'
import type {LogTarget} from '../observability/index.js'

const {names, config, log, inProcess} = workerData as {names: ServiceName[]; config: PlatformConfig; log: LogTarget; inProcess: boolean}
const port = parentPort!
try {
  const services: RunningService[] =
    names.length === 2
      ? await startBoth(config, {log}, inProcess)
      : [await (names[0] === 'l01-data-layer' ? startDataLayer : startGateway)(config, {log})]
  port.on('message', async (msg) => {
    if (msg !== 'close') return
    try {
      for (const s of [...services].reverse()) await s.close()
    } catch (err) {
      port.postMessage({type: 'error', code: 'INTERNAL', message: `closing ${names.join(' and ')} failed: ${(err as Error).message}`})
    }
    port.close()
  })
  port.postMessage({type: 'ready', services: services.map((s) => ({url: s.url, backend: s.backend}))})
} catch (err) {
  const e = err instanceof PlatformError ? err : new PlatformError('INTERNAL', (err as Error).message)
  port.postMessage({type: 'error', code: e.code, message: e.message, suggestion: e.suggestion})
  port.close()
}
