export {createServer, BODY_LIMIT, keyMatcher, presentedKey} from './http.js'
export {findUnstorable, findInexactNumber, MAX_DEPTH, formatValidation} from './validation.js'
export type {ServerOptions, ReadyCheck} from './http.js'
export {listen, portInUse} from './listen.js'
