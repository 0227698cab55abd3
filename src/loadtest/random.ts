/** A seeded PRNG (mulberry32): the same seed gives the same users, choices and payloads. */
export class Rng {
  readonly #seed: number
  #state: number

  constructor(seed: number) {
    this.#seed = this.#state = seed >>> 0 || 0x9e3779b9
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  float(min: number, max: number, decimals = 2): number {
    return Number((min + this.next() * (max - min)).toFixed(decimals))
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  /** One item, chosen with probability proportional to its weight. */
  weighted<T extends {weight: number}>(items: readonly T[]): T {
    const total = items.reduce((s, i) => s + i.weight, 0)
    let r = this.next() * total
    for (const item of items) if ((r -= item.weight) < 0) return item
    return items.at(-1)!
  }

  /** A version-4 UUID made from this generator. */
  uuid(): string {
    const hex = Array.from({length: 32}, () => Math.floor(this.next() * 16).toString(16))
    hex[12] = '4'
    hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
    const s = hex.join('')
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`
  }

  /** A new generator derived from this one's seed and a number (a user's own stream). */
  fork(n: number): Rng {
    return new Rng(Math.imul(this.int(0, 2 ** 31), 2654435761) ^ n)
  }

  /** The n-th generator derived from this one's seed, the same whatever was drawn before (an open-model arrival's own). */
  at(n: number): Rng {
    return new Rng(Math.imul(n + 1, 2654435761) ^ this.#seed)
  }
}
