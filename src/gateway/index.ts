export {buildGateway} from './app.js'
export type {GatewayDeps} from './app.js'
export {L01Client, bodyOf} from './l01-client.js'
export type {L01ClientOptions, UpstreamResponse} from './l01-client.js'
