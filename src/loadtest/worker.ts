/** A load generator in its own worker thread, so it never shares an event loop with what it measures. */
import {parentPort, workerData} from 'node:worker_threads'
import {Generator, type GeneratorConfig} from './generator.js'
import {loadScenario} from './scenario.js'

type Command = {type: 'start'; startEpochMs: number} | {type: 'tick'} | {type: 'stop'; abandon?: boolean}

const port = parentPort!
const cfg = workerData as GeneratorConfig
const fail = (err: Error) => {
  port.postMessage({type: 'error', message: err.message})
  port.close()
}
// The scenario comes by module URL (functions cannot be posted); messages wait for it, in order.
const ready = loadScenario(cfg.scenario).then((scenario) => new Generator(cfg, scenario))
port.on('message', (msg: Command) => {
  void ready.then(
    (gen) => {
      if (msg.type === 'tick') port.postMessage({type: 'interval', ...gen.report()})
      else if (msg.type === 'stop') gen.stop(msg.abandon)
      else {
        gen.run(msg.startEpochMs).then(async () => {
          port.postMessage({type: 'done', ...gen.report()})
          await gen.close()
          port.close()
        }, fail)
      }
    },
    () => {},
  )
})
// Ready once warm (the run's first requests are not the generator's cold start) and prepared (open model).
ready
  .then(async (gen) => {
    await gen.warmUp()
    await gen.prepare()
  })
  .then(() => port.postMessage({type: 'ready'}), fail)
