/** A load generator in its own worker thread, so it never shares an event loop with what it measures. */
import {parentPort, workerData} from 'node:worker_threads'
import {Generator, type GeneratorConfig} from './generator.js'

const port = parentPort!
const gen = new Generator(workerData as GeneratorConfig)
port.on('message', (msg: {type: 'start'; startEpochMs: number} | {type: 'tick'} | {type: 'stop'}) => {
  if (msg.type === 'tick') port.postMessage({type: 'interval', ...gen.report()})
  else if (msg.type === 'stop') gen.stop()
  else {
    gen.run(msg.startEpochMs).then(
      async (health) => {
        port.postMessage({type: 'done', health, ...gen.report()})
        await gen.close()
        port.close()
      },
      (err: Error) => {
        port.postMessage({type: 'error', message: err.message})
        port.close()
      },
    )
  }
})
// Ready once warm: the run's first requests are not the generator's cold start.
void gen.warmUp().then(() => port.postMessage({type: 'ready'}))
