import {Listr} from 'listr2'
import type {Step} from '../stack/index.js'

export type StepRunner = <T>(title: string, fn: () => Promise<T>) => Promise<T>

/**
 * Shows each step as a listr2 task (a live line on a TTY, plain lines otherwise, nothing
 * with --json) while it runs: ✔ when it resolves, ✖ with the reason when it throws.
 */
export function stepRunner(opts: {json: boolean}): StepRunner {
  return async <T>(title: string, fn: () => Promise<T>): Promise<T> => {
    let result: T
    await new Listr(
      [
        {
          title,
          task: async (_ctx: unknown, task: {title: string}) => {
            result = await fn()
            if (typeof result === 'string' && result) task.title = `${title}: ${result}`
          },
        },
      ],
      {
        renderer: opts.json ? 'silent' : process.stdout.isTTY ? 'default' : 'simple',
        exitOnError: true,
        rendererOptions: {collapseErrors: false, showErrorMessage: false},
      },
    ).run()
    return result!
  }
}

/** Runs steps one after another; a step's returned text is added to its title. */
export async function runSteps(steps: Step[], opts: {json: boolean}): Promise<Record<string, string>> {
  const run = stepRunner(opts)
  const results: Record<string, string> = {}
  for (const s of steps) {
    const note = await run(s.title, s.run)
    if (typeof note === 'string' && note) results[s.title] = note
  }
  return results
}
