/**
 * Polls probe until it returns something truthy; on timeout the error says what was last
 * seen (a value, or the last error), and detail() when given.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  opts: {ms?: number; every?: number; detail?: () => Promise<string>} = {},
): Promise<T> {
  let last: unknown
  for (
    const deadline = Date.now() + (opts.ms ?? 60_000);
    Date.now() < deadline;
    await new Promise((r) => setTimeout(r, opts.every ?? 250))
  ) {
    try {
      const value = await probe()
      if (value) return value
      last = value
    } catch (error) {
      last = error
    }
  }
  throw new Error(
    `timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}${opts.detail ? `\n${await opts.detail()}` : ''}`,
  )
}
