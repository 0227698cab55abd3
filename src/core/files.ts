import {readFileSync, statSync} from 'node:fs'

/** A file's text, or fallback when it cannot be read (gone, never written). */
export function readFileOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
}

/** A file's size in bytes, or 0 when it does not exist (yet). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
