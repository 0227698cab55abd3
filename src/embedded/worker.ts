/**
 * Entry of a service's worker thread: starts one service with the configuration it was
 * given, reports ready (or the error), and closes it when told to.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {PlatformError} from '../core/index.js'
import {startDataLayer, startGateway, type ServiceName} from './services.js'
import type {PlatformConfig} from '../core/index.js'
import type {LogTarget} from '../observability/index.js'

const {name, config, log} = workerData as {name: ServiceName; config: PlatformConfig; log: LogTarget}
const port = parentPort!
try {
  const start = name === 'l01-data-layer' ? startDataLayer : startGateway
  const service = await start(config, {log})
  port.on('message', (msg) => {
    if (msg !== 'close') return
    service.close().then(
      () => port.close(),
      (err: Error) => {
        port.postMessage({type: 'error', code: 'INTERNAL', message: `closing ${name} failed: ${err.message}`})
        port.close()
      },
    )
  })
  port.postMessage({type: 'ready', url: service.url, backend: service.backend})
} catch (err) {
  const e = err instanceof PlatformError ? err : new PlatformError('INTERNAL', (err as Error).message)
  port.postMessage({type: 'error', code: e.code, message: e.message, suggestion: e.suggestion})
  port.close()
}
