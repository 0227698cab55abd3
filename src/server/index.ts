export {createServer, BODY_LIMIT, keyMatches, presentedKey, findNul, formatValidation} from './http.js'
export type {ServerOptions, ReadyCheck} from './http.js'
export {listen} from './listen.js'
