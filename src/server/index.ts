export {createServer, BODY_LIMIT, keyMatcher, presentedKey, findUnstorable, MAX_DEPTH, formatValidation} from './http.js'
export type {ServerOptions, ReadyCheck} from './http.js'
export {listen, portInUse} from './listen.js'
