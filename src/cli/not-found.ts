import {toConfiguredId, type Hook} from '@oclif/core'
import {closest} from '../core/index.js'

/**
 * An unknown command. On a terminal, @oclif/plugin-not-found asks "Did you mean status?" and runs
 * the answer; it says nothing about the closest command to a script, so there the suggestion is printed.
 * Either way a command that does not exist is a usage error (exit 2).
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const shown = (id: string) => toConfiguredId(id, this.config)
  const ids = opts.config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
  const suggestion = closest(opts.id, ids)
  if (process.stdin.isTTY && process.stdout.isTTY) {
    const {default: prompt} = await import('@oclif/plugin-not-found')
    try {
      return await prompt.call(this, opts)
    } catch (err) {
      if ((err as {oclif?: {exit?: number}}).oclif?.exit !== 127) throw err
      // Declined: the same message and exit code as without a terminal.
    }
  }
  const hint = suggestion ? ` Did you mean ${shown(suggestion)}?` : ''
  const help = `Run \`${opts.config.bin} help\` for a list of the commands.`
  this.error(`${shown(opts.id)} is not a ${opts.config.bin} command.${hint} ${help}`, {exit: 2})
}

export default hook
