import {Args, Flags} from '@oclif/core'
import {LoadTestCommand, loadTestFlags, runLoadTestCommand} from '../../src/cli/index.js'

export default class TestLoad extends LoadTestCommand {
  static override summary = 'Run a load-test profile: normal, peak, endurance or custom'
  static override description = `Profiles (users / spawn rate / duration): normal 50/10/5m, peak 200/20/10m, endurance 100/10/30m; custom \
takes --users, --spawn-rate and --duration. Thresholds default to p95 <= 500 ms and errors < 1%, per endpoint and in total. Exit codes: \
0 pass, 1 threshold failed, 4 regressed against --baseline, 5 run invalid (the generator was the bottleneck), 130 interrupted (Ctrl-C: \
the reports cover what ran), 2 usage, 3 target unreachable.`
  static override examples = [
    '<%= config.bin %> test load normal',
    '<%= config.bin %> test load peak --duration 2m --abort-on-fail',
    '<%= config.bin %> test load custom --users 300 --spawn-rate 30 --duration 3m --baseline reports/last/summary.json',
    '<%= config.bin %> test load normal --rate 200 --duration 1m --json > result.json',
  ]
  static override args = {
    profile: Args.string({description: 'the profile', required: true, options: ['normal', 'peak', 'endurance', 'custom', 'smoke']}),
  }
  static override flags = {
    ...loadTestFlags,
    users: Flags.integer({description: 'virtual users (custom, or to override the profile)', min: 1}),
    'spawn-rate': Flags.integer({description: 'users started per second', min: 1}),
  }

  async run() {
    const {args, flags} = await this.parse(TestLoad)
    return runLoadTestCommand(this, this.config_(), {profile: args.profile, users: flags.users, spawnRate: flags['spawn-rate']}, flags)
  }
}
