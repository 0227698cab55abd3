/** Time as the waits see it: the real one, or a test's, where sleeping moves the time on. */
export interface Clock {
  now(): number
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

export interface PollOptions {
  /** give up once this much time has passed since the first check */
  timeoutMs?: number
  /** or after this many checks */
  attempts?: number
  everyMs: number
  clock?: Clock
}

/**
 * The one wait of the platform: calls check until it returns something other than
 * undefined, and resolves with that; resolves undefined when the time or the attempts
 * run out (the caller says what it was waiting for). check runs at least once.
 */
export async function pollUntil<T>(check: () => Promise<T | undefined> | T | undefined, opts: PollOptions): Promise<T | undefined> {
  const clock = opts.clock ?? systemClock
  const deadline = opts.timeoutMs === undefined ? Infinity : clock.now() + opts.timeoutMs
  for (let attempt = 1; ; attempt++) {
    const value = await check()
    if (value !== undefined) return value
    if (clock.now() >= deadline || (opts.attempts !== undefined && attempt >= opts.attempts)) return undefined
    await clock.sleep(opts.everyMs)
  }
}
