/**
 * Runs close once on SIGINT or SIGTERM, then exits 0 (1 if close failed). A second
 * signal while closing exits at once. Resolves when close has finished.
 */
export function closeOnSignal(close: () => Promise<void>, log: (msg: string) => void = () => {}): Promise<void> {
  return new Promise((resolve) => {
    let closing = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) {
        log(`${signal} again: exiting without waiting`)
        process.exit(130)
      }
      closing = true
      log(`${signal}: shutting down`)
      close().then(
        () => {
          resolve()
          process.exitCode = 0
        },
        (err) => {
          log(`shutdown failed: ${(err as Error).message}`)
          process.exitCode = 1
          resolve()
        },
      )
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
