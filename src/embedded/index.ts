export {startDataLayer} from './data-layer.js'
export type {RunningService, StartOptions} from './data-layer.js'
