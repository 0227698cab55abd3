import {LoadTestCommand, loadTestFlags, runLoadTestCommand} from '../../src/cli/index.js'

export default class TestSmoke extends LoadTestCommand {
  static override summary = 'Run the smoke profile of the load-test scenario (10 users, 1 minute)'
  static override description = `Without --target, starts the embedded platform, runs against it and stops it. Exit codes: 0 pass, 1 \
threshold failed, 4 regressed against --baseline, 5 run invalid, 130 interrupted, 2 usage, 3 target unreachable. Reports (HTML, \
summary.json, junit.xml, run.log) go to --report, default reports/smoke-<timestamp>/; Ctrl-C stops the run and still writes them, \
marked interrupted.`
  static override examples = [
    '<%= config.bin %> test smoke',
    '<%= config.bin %> test smoke --duration 10s --junit reports/smoke.xml',
    '<%= config.bin %> test smoke --open',
    '<%= config.bin %> test smoke --target http://127.0.0.1:8009 --api-key $KEY --threshold "p95<200"',
  ]
  static override flags = loadTestFlags

  async run() {
    const {flags} = await this.parse(TestSmoke)
    return runLoadTestCommand(this, this.config_(), {profile: 'smoke'}, flags)
  }
}
