export {buildDataLayer} from './app.js'
export type {DataLayerDeps} from './app.js'
export {AGENT_STATUSES, GOAL_STATUSES, PLAN_STATUSES, TASK_STATUSES} from './entities.js'
