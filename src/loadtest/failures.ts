import type {ApiRequest, ApiResponse} from './scenario.js'
import type {FailureGroup} from './types.js'

/**
 * What tells causes apart is kept: URLs' scheme, host and port, addresses (127.0.0.1:8001,
 * l01-data-layer:8001), route words and codes (L01, ECONNREFUSED). What differs between
 * requests of one cause goes: UUIDs, hex ids, and numbers standing on their own.
 */
const TOKEN = new RegExp(
  [
    String.raw`(?<origin>\b[a-z][a-z\d+.-]*://[^\s/'"<>()]+)`,
    String.raw`(?<addr>\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b|\[[\da-f:]+\](?::\d{1,5})?|\b[a-z][\w-]*(?:\.[\w-]+)*:\d{2,5}\b)`,
    String.raw`(?<uuid>\b[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}\b)`,
    String.raw`(?<hex>\b(?=[\da-f]*\d)[\da-f]{8,}\b)`,
    String.raw`(?<num>(?<![\w.])\d+(?:\.\d+)*)`,
  ].join('|'),
  'gi',
)

/** The message without what differs between requests of one failure: ids, UUIDs, numbers. */
export function normalise(message: string): string {
  return message
    .replace(TOKEN, (match, ...rest) => {
      const g = rest.at(-1) as Record<string, string | undefined>
      return g.uuid ? '<uuid>' : g.hex ? '<id>' : g.num ? '<n>' : match
    })
    .slice(0, 300)
}

/** What a failure says: the error body's code and message, else the body's text, else the transport error. */
export function failureMessage(res: ApiResponse, transportError?: string): string {
  if (res.status === null) return transportError ?? 'no response'
  const b = res.body
  if (b && typeof b === 'object' && !Array.isArray(b)) {
    const {error, message} = b as {error?: unknown; message?: unknown}
    if (error || message) return [error, message].filter(Boolean).map(String).join(': ')
  }
  if (typeof b === 'string' && b) return b.slice(0, 300)
  return `HTTP ${res.status}`
}

/** Keeps samples small enough for reports: a body over 2 KiB of JSON is cut to text. */
function clip(body: unknown): unknown {
  if (body === undefined) return undefined
  const text = JSON.stringify(body)
  return text.length > 2048 ? `${text.slice(0, 2048)}… (${text.length} characters)` : body
}

/** Failure groups keyed by endpoint × status × normalised message. */
export class FailureGroups {
  readonly #groups = new Map<string, FailureGroup>()

  add(req: ApiRequest, res: ApiResponse, message: string, at: {t: number; users: number}): void {
    const norm = normalise(message)
    const key = `${req.endpoint}\u0000${res.status}\u0000${norm}`
    const g = this.#groups.get(key)
    if (g) {
      g.count++
      return
    }
    this.#groups.set(key, {
      endpoint: req.endpoint,
      status: res.status,
      message: norm,
      count: 1,
      firstSeen: at,
      sample: {request: {method: req.method, url: req.path, body: clip(req.body)}, response: {status: res.status, body: clip(res.body)}},
    })
  }

  /** Adds groups counted elsewhere (another worker, another interval). */
  merge(groups: readonly FailureGroup[]): void {
    for (const g of groups) {
      const key = `${g.endpoint}\u0000${g.status}\u0000${g.message}`
      const mine = this.#groups.get(key)
      if (!mine) this.#groups.set(key, structuredClone(g))
      else {
        mine.count += g.count
        if (g.firstSeen.t < mine.firstSeen.t) {
          mine.firstSeen = g.firstSeen
          mine.sample = g.sample
        }
      }
    }
  }

  /** The groups, most frequent first. */
  list(): FailureGroup[] {
    return [...this.#groups.values()].sort((a, b) => b.count - a.count || a.firstSeen.t - b.firstSeen.t)
  }

  /** The groups, and forgets them (a worker hands over what is new since its last report). */
  drain(): FailureGroup[] {
    const out = [...this.#groups.values()]
    this.#groups.clear()
    return out
  }
}
