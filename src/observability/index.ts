export {createMetrics, observeHttp} from './metrics.js'
export type {MetricsRegistry} from './metrics.js'
