import type {ChildProcess} from 'node:child_process'
import {once} from 'node:events'

/**
 * Resolves on the first SIGINT or SIGTERM. Listening starts at the call, so a signal
 * that comes while a service is still starting is not lost. A second signal exits at once.
 */
export function nextSignal(log: (msg: string) => void = () => {}): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (seen) {
        log(`${signal} again: exiting without waiting`)
        process.exit(130)
      }
      seen = true
      log(`${signal}: shutting down`)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/** Runs close once on SIGINT or SIGTERM; exit code 0, or 1 if close failed. Resolves when close has finished. */
export async function closeOnSignal(
  close: () => Promise<void>,
  log: (msg: string) => void = () => {},
  signal = nextSignal(log),
): Promise<void> {
  await signal
  try {
    await close()
    process.exitCode = 0
  } catch (err) {
    log(`shutdown failed: ${(err as Error).message}`)
    process.exitCode = 1
  }
}

/** Stops a child process: SIGTERM, then SIGKILL after graceMs; resolves once it has exited (at once if it had). */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}
