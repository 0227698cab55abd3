import {lstatSync, readdirSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {dirname, isAbsolute, join, posix, relative, resolve, sep} from 'node:path'
import {PlatformError, sha256} from '../core/index.js'

export interface PatchFile {
  /** the local file */
  local: string
  /** where it goes in the container: absolute, normalised */
  target: string
  mode: number
  sha256: string
  content: Buffer
}

const refuse = (message: string, suggestion?: string) => new PlatformError('VALIDATION_FAILED', message, {suggestion})

/** A container path: absolute, and no `..` can take it anywhere its text does not say. */
export function safeTarget(path: string): string {
  if (!path.startsWith('/')) throw refuse(`container path ${path} is not absolute`)
  if (path.split('/').includes('..')) {
    throw refuse(`container path ${path} contains ..`, 'name the target directory plainly, e.g. --to /app/dist/')
  }
  const norm = posix.normalize(path)
  if (norm === '/') throw refuse("a patch cannot replace the container's root directory")
  return norm
}

/** Every regular file under path; a symlink is followed only when it stays inside root. */
function walk(path: string, root: string, out: string[]): void {
  const st = lstatSync(path)
  if (st.isSymbolicLink()) {
    const real = realpathSync(path)
    const rel = relative(root, real)
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw refuse(`${path} is a symlink to ${real}, outside ${root}`, 'copy the file itself into the patch instead of linking to it')
    }
    walk(real, root, out)
  } else if (st.isDirectory()) {
    for (const entry of readdirSync(path).sort()) walk(join(path, entry), root, out)
  } else if (st.isFile()) out.push(path)
}

/** The container path for a local path: --to, else the longest matching patch.mappings prefix. */
function targetFor(local: string, given: string, base: string, opts: {to?: string; mappings: Record<string, string>; cwd: string}): string {
  if (opts.to) {
    const rel = relative(base, local).split(sep).join('/')
    // --to names a directory when it ends in / or when a directory is patched; else the file itself.
    if (rel && (opts.to.endsWith('/') || statSync(base).isDirectory())) return posix.join(opts.to, rel)
    return opts.to.endsWith('/') ? posix.join(opts.to, posix.basename(local)) : opts.to
  }
  const relToCwd = relative(opts.cwd, local).split(sep).join('/')
  const prefix = Object.keys(opts.mappings)
    .filter((p) => relToCwd === p.replace(/\/$/, '') || relToCwd.startsWith(p.endsWith('/') ? p : `${p}/`))
    .sort((a, b) => b.length - a.length)[0]
  if (prefix === undefined) {
    throw new PlatformError('USAGE', `no container path for ${given}`, {
      suggestion: 'pass --to /path/in/container, or map it in platform.yaml under patch.mappings (e.g. "dist/": "/app/dist/")',
    })
  }
  const rest = relToCwd.slice(prefix.replace(/\/$/, '').length).replace(/^\//, '')
  return posix.join(opts.mappings[prefix]!, rest)
}

/** The files a patch copies, read now (so later edits of the working tree do not change it). */
export function collectFiles(paths: string[], opts: {to?: string; mappings: Record<string, string>; cwd: string}): PatchFile[] {
  const files: PatchFile[] = []
  for (const given of paths) {
    const base = resolve(opts.cwd, given)
    let found: string[] = []
    try {
      // Symlinks may point anywhere inside what is patched: the directory, or a file's own directory.
      const root = statSync(base).isDirectory() ? realpathSync(base) : realpathSync(dirname(base))
      walk(base, root, found)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const suggestion = 'check the path (it is read relative to the current directory)'
        throw new PlatformError('USAGE', `${given} does not exist`, {suggestion})
      }
      throw err
    }
    if (found.length === 0) throw new PlatformError('USAGE', `${given} holds no files`)
    found = [...new Set(found)]
    for (const local of found) {
      const content = readFileSync(local)
      const target = safeTarget(targetFor(local, given, base, opts))
      files.push({local, target, mode: statSync(local).mode & 0o7777, sha256: sha256(content), content})
    }
  }
  const seen = new Map<string, string>()
  for (const f of files) {
    if (seen.has(f.target)) throw new PlatformError('USAGE', `${seen.get(f.target)} and ${f.local} would both become ${f.target}`)
    seen.set(f.target, f.local)
  }
  return files
}
