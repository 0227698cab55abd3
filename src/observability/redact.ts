/**
 * Query parameters named like credentials (api_key, apikey, key, token, access_token,
 * password, secret, ...): their values are never written to a log.
 */
export function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z]/g, '')
  return n.endsWith('key') || n === 'sig' || /token|secret|passw|pwd|auth|credential|signature|session/.test(n)
}

export const REDACTED = '[REDACTED]'

const decodeName = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '))
  } catch {
    return raw
  }
}

/** The URL with the value of every secret-named query parameter replaced by [REDACTED]; the rest is left as sent. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const pairs = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = eq < 0 ? pair : pair.slice(0, eq)
      return isSecretName(decodeName(name)) ? `${name}=${REDACTED}` : pair
    })
  return `${url.slice(0, q)}?${pairs.join('&')}`
}
