export {createMetrics, observeHttp} from './metrics.js'
export type {MetricsRegistry} from './metrics.js'
export {serviceLog} from './logging.js'
export type {LogTarget, ServiceLog} from './logging.js'
