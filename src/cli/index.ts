export {PlatformCommand, dbFlags, withDbFlags, logLevelFlag} from './command.js'
export {renderStatus} from './summary.js'
export {loadTestFlags, runLoadTestCommand} from './loadtest.js'
