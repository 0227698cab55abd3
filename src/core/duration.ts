import {PlatformError} from './errors.js'

/** `90`, `90s`, `5m`, `1h30m`, `1.5s` as seconds. */
export function parseDuration(text: string): number {
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t)
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) {
    throw new PlatformError('USAGE', `"${text}" is not a duration`, {suggestion: 'write it as 10s, 5m, 1h or 1m30s'})
  }
  const unit = {ms: 0.001, s: 1, m: 60, h: 3600} as const
  return parts.reduce((s, p) => s + Number(p[1]) * unit[p[2] as keyof typeof unit], 0)
}
