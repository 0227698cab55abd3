import {readFileSync} from 'node:fs'

/** A file's text, or fallback when it cannot be read (gone, never written). */
export function readFileOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
}
