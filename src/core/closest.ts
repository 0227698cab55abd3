/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}

/** The candidate nearest to text, for "did you mean ...?"; none when even the nearest is mostly different. */
export function closest(text: string, candidates: Iterable<string>): string | undefined {
  let best: {c: string; d: number} | undefined
  for (const c of candidates) {
    const d = editDistance(text.toLowerCase(), c.toLowerCase())
    if (!best || d < best.d) best = {c, d}
  }
  return best && best.d <= Math.max(2, Math.floor(text.length / 2)) ? best.c : undefined
}
