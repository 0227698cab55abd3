import {Args, Flags} from '@oclif/core'
import {PlatformCommand, confirm, runSteps, stackDeps, swarmDeps, style} from '../../src/cli/index.js'

export default class StackRelocate extends PlatformCommand {
  static override summary = 'Move a service that runs under another compose project into the platform project'
  static override description = `Shows the plan, then stops the container in the wrong project, removes it (its volumes are kept), starts \
the service in project platform without recreating its dependencies, and waits until it is healthy. --carry-volumes first copies the \
data of its named volumes into the platform's. Every step checks where things stand, so a relocation interrupted at any point finishes \
when run again. For prometheus it also checks that L01 and L09 are scraped.

With --from-stack (Swarm): removes the swarm service that runs it under that stack (its volumes are kept; --carry-volumes copies \
this node's into the stack platform's), deploys the stack platform again, which creates the service in it, and waits until every \
replica is running and healthy.`
  static override examples = [
    '<%= config.bin %> stack relocate prometheus --dry-run',
    '<%= config.bin %> stack relocate prometheus --from story-portal-app --carry-volumes --yes',
    '<%= config.bin %> stack relocate prometheus --from-stack story-portal-app --carry-volumes --yes',
  ]
  static override args = {service: Args.string({description: 'the compose service to move', required: true})}
  static override flags = {
    from: Flags.string({description: 'the compose project (or container name) it runs in now'}),
    'from-stack': Flags.string({description: 'Swarm: the stack it runs in now (see `platform stack doctor`)', exclusive: ['from']}),
    'dry-run': Flags.boolean({description: 'show the plan and change nothing'}),
    'carry-volumes': Flags.boolean({description: "copy the data of its named volumes into the platform project's"}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
  }

  async run() {
    const {args, flags} = await this.parse(StackRelocate)
    const json = this.jsonEnabled()
    const {planRelocation, relocationSteps, swarmRelocationSteps} = await import('../../src/stack/index.js')
    if (flags['from-stack']) {
      const deps = await swarmDeps(this.config_(), (l) => json || this.logToStderr(style.dim(l)))
      const opts = {fromStack: flags['from-stack'], carryVolumes: flags['carry-volumes']}
      const steps = await swarmRelocationSteps(deps, args.service, opts)
      this.log(`Plan for ${args.service}:\n${steps.map((s, i) => `  ${i + 1}. ${s.title}`).join('\n')}`)
      if (flags['dry-run']) return {service: args.service, dryRun: true, steps: steps.map((s) => s.title)}
      if (!flags.yes) await confirm('Go ahead?', {json, flag: '--yes', what: 'relocation'})
      const notes = await runSteps(steps, {json})
      this.log(`${style.ok('✓')} ${args.service} now runs in the swarm stack platform.`)
      return {service: args.service, done: true, steps: steps.map((s) => s.title), notes}
    }
    const deps = await stackDeps(this.config_(), (l) => json || this.logToStderr(style.dim(l)))
    const plan = await planRelocation(deps, args.service, {from: flags.from, carryVolumes: flags['carry-volumes']})
    if (plan.done) {
      this.log(`${style.ok('✓')} ${args.service} already runs in project platform and nowhere else: nothing to do.`)
      return {service: args.service, done: true, steps: []}
    }
    this.log(`Plan for ${args.service}:\n${plan.steps.map((s, i) => `  ${i + 1}. ${s}`).join('\n')}`)
    if (flags['dry-run']) return {service: args.service, dryRun: true, steps: plan.steps}
    if (!flags.yes) await confirm('Go ahead?', {json, flag: '--yes', what: 'relocation'})
    const notes = await runSteps(relocationSteps(deps, plan), {json})
    this.log(`${style.ok('✓')} ${args.service} now runs in project platform.`)
    return {service: args.service, done: true, steps: plan.steps, notes}
  }
}
