import {hostname} from 'node:os'
import {Flags} from '@oclif/core'
import {PlatformCommand} from '../../src/cli/index.js'
import {PlatformError, nextSignal} from '../../src/core/index.js'

export default class TestGenerator extends PlatformCommand {
  static override summary = "One load generator of a distributed run: takes its share of the load from a run's coordinator"
  static override description = `Started by \`test load|smoke --generators N\` (as processes here, or with --swarm as the Swarm service \
platform-loadgen), rarely by hand. It registers with the coordinator, checks the target, waits at the start barrier, sends its \
histograms, counts, failures and validity signals every interval, and stops when told or when the coordinator is gone for three \
intervals. The API key comes from PLATFORM_API_KEY or PLATFORM_API_KEY_FILE (a Docker secret), never from the command line. \
Exit codes: 0 done, 2 refused (a wrong token, a late registration), 3 coordinator or target unreachable, 5 it could not run.`
  static override examples = [
    'PLATFORM_API_KEY=$KEY <%= config.bin %> test generator --coordinator http://10.0.0.5:41234 --token $RUN_TOKEN',
  ]
  static override flags = {
    coordinator: Flags.string({description: "the coordinator's URL", required: true}),
    token: Flags.string({description: "the run's token", required: true}),
    node: Flags.string({description: 'the node name the report shows (default: $PLATFORM_GENERATOR_NODE, else the host name)'}),
  }

  async run() {
    const {flags} = await this.parse(TestGenerator)
    const apiKey = process.env.PLATFORM_API_KEY
    if (!apiKey) {
      throw new PlatformError('USAGE', 'a generator needs the API key in PLATFORM_API_KEY or PLATFORM_API_KEY_FILE', {
        suggestion: 'set one of them; the key never goes on the command line',
      })
    }
    // Removed by its launcher (a signal; as a container's PID 1 there is no default action): the load stops at once.
    void nextSignal().then((signal) => process.exit(signal === 'SIGINT' ? 130 : 143))
    const {runGenerator} = await import('../../src/loadtest/index.js')
    const node = flags.node ?? process.env.PLATFORM_GENERATOR_NODE ?? hostname()
    return runGenerator({coordinator: flags.coordinator, token: flags.token, apiKey, node, log: (l) => this.logToStderr(l)})
  }
}
