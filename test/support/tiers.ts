/** A service a tier needs is missing: a failure under CI=true, a skip with a hint elsewhere. */
export function missingService(what: string, how: string): void {
  if (process.env.CI === 'true') throw new Error(`CI=true but ${what}: ${how}`)
  console.warn(`[platform tests] ${what}: its tests are skipped. ${how}`)
}
