import chalk from 'chalk'

// chalk honours FORCE_COLOR and the terminal but not NO_COLOR (no-color.org: any non-empty value turns colour off).
// chalk's level is shared, so this holds for every line the CLI colours; oclif's ansis and listr2's colorette read NO_COLOR themselves.
if (process.env.NO_COLOR) chalk.level = 0

export const style = {
  ok: (s: string) => chalk.green(s),
  warn: (s: string) => chalk.yellow(s),
  bad: (s: string) => chalk.red(s),
  dim: (s: string) => chalk.dim(s),
  info: (s: string) => chalk.cyan(s),
  accent: (s: string) => chalk.magenta(s),
  bold: (s: string) => chalk.bold(s),
}

const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length

/** A plain aligned table for people; --json output never goes through here. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i]! - visible(c)))
      .join('  ')
      .trimEnd()
  return [chalk.bold(line(headers)), ...rows.map(line)].join('\n')
}
