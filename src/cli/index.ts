export {PlatformCommand, dbFlags, withDbFlags} from './command.js'
