import {Listr} from 'listr2'
import type {Step} from '../stack/index.js'

/**
 * Runs steps one after another as a listr2 task list (a live list on a TTY, plain lines
 * otherwise, nothing with --json). A step's returned text is added to its title.
 */
export async function runSteps(steps: Step[], opts: {json: boolean}): Promise<Record<string, string>> {
  const results: Record<string, string> = {}
  const list = new Listr(
    steps.map((s) => ({
      title: s.title,
      task: async (_ctx: unknown, task: {title: string}) => {
        const note = await s.run()
        if (typeof note === 'string' && note) {
          results[s.title] = note
          task.title = `${s.title}: ${note}`
        }
      },
    })),
    {
      renderer: opts.json ? 'silent' : process.stdout.isTTY ? 'default' : 'simple',
      exitOnError: true,
      rendererOptions: {collapseErrors: false, showErrorMessage: false},
    },
  )
  await list.run()
  return results
}
