export {PlatformCommand, dbFlags, withDbFlags, logLevelFlag} from './command.js'
export {renderStatus} from './summary.js'
