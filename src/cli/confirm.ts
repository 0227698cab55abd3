import {createInterface} from 'node:readline/promises'
import {PlatformError} from '../core/index.js'

/**
 * Asks a person to confirm on a terminal (the question on stderr, so stdout stays the command's). A script, or
 * --json, cannot answer: it passes the flag instead. No answer but yes goes ahead.
 */
export async function confirm(question: string, opts: {json: boolean; flag: string; what: string; suggestion?: string}): Promise<void> {
  if (!process.stdin.isTTY || opts.json) {
    const suggestion = opts.suggestion ?? `pass ${opts.flag} to go ahead without a prompt`
    throw new PlatformError('USAGE', `${opts.what} needs confirmation`, {suggestion})
  }
  const rl = createInterface({input: process.stdin, output: process.stderr})
  const answer = await rl.question(`${question} [y/N] `).finally(() => rl.close())
  if (!/^y(es)?$/i.test(answer.trim())) throw new PlatformError('USAGE', `${opts.what} cancelled`)
}
