import {posix} from 'node:path'
import {PlatformError, isPlatformError, sha256} from '../core/index.js'
import {packFiles, unpackFiles, type Engine, type TarFile} from '../stack/index.js'
import {readCopy, type PatchRecord} from './ledger.js'
import type {PatchDeps} from './types.js'

/** A path of the container as it is now: a file (its bytes and mode), or nothing. */
export type Saved = {existed: false} | {existed: true; content: Buffer; mode: number}

const notAFile = (path: string, type: string) =>
  new PlatformError('USAGE', `${path} in the container is a ${type}, not a file`, {
    suggestion: 'patch the files inside it, e.g. a local directory onto it',
  })

/** The archive of a path, or undefined when it does not exist. */
async function archive(engine: Engine, id: string, path: string) {
  try {
    return await unpackFiles(await engine.getArchive(id, path))
  } catch (err) {
    if (isPlatformError(err, 'NOT_FOUND')) return undefined
    throw err
  }
}

/**
 * Each path of the container as it is now. Files that share a directory come in one archive
 * of it (one round trip, not one per file); a file alone in its directory comes by itself.
 */
export async function snapshot(engine: Engine, id: string, paths: string[]): Promise<Map<string, Saved>> {
  const out = new Map<string, Saved>()
  const byDir = new Map<string, string[]>()
  for (const p of paths) byDir.set(posix.dirname(p), [...(byDir.get(posix.dirname(p)) ?? []), p])
  for (const [dir, group] of byDir) {
    // Entries of a directory's archive are named <its basename>/<relative path>; a file's by its basename.
    const alone = group.length === 1
    const entries = new Map(((await archive(engine, id, alone ? group[0]! : dir)) ?? []).map((e) => [e.name.replace(/\/$/, ''), e]))
    for (const p of group) {
      const e = alone ? [...entries.values()][0] : entries.get(posix.join(posix.basename(dir) || '.', posix.basename(p)))
      if (e && e.type !== 'file') throw notAFile(p, e.type)
      out.set(p, e ? {existed: true, content: e.content, mode: e.mode} : {existed: false})
    }
  }
  return out
}

/** What a path should hold: a file with this SHA-256, or (undefined) nothing. */
export interface Expected {
  path: string
  sha256?: string
}

/**
 * Reads every path back and compares it with what was put there. The container has just
 * started: a file that differs was changed by its command or entrypoint. Resolves with a
 * message naming each such file, or undefined when all are as expected.
 */
export async function readBack(engine: Engine, id: string, expected: Expected[]): Promise<string | undefined> {
  const now = await snapshot(
    engine,
    id,
    expected.map((e) => e.path),
  )
  const problems = expected.flatMap((e) => {
    const s = now.get(e.path)!
    if (e.sha256 === undefined) return s.existed ? [`${e.path} was created again`] : []
    if (!s.existed) return [`${e.path} was removed`]
    return sha256(s.content) === e.sha256 ? [] : [`${e.path} was rewritten`]
  })
  if (!problems.length) return undefined
  const which = problems.length === 1 ? 'the file that writes it' : 'the files that write them'
  const each = problems.map((p) => `${p} when the container started (its command or entrypoint writes it)`)
  return `${each.join('; ')}; bake the change into the image, or patch ${which}`
}

/** What rolling back records leaves each path as: as it was before the earliest of them. */
export function before(records: PatchRecord[]): Expected[] {
  const out = new Map<string, Expected>()
  for (const r of [...records].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
    for (const f of r.files) if (!out.has(f.path)) out.set(f.path, {path: f.path, sha256: f.before.existed ? f.before.sha256 : undefined})
  }
  return [...out.values()]
}

/** Puts a patch's saved files back and removes the ones it created. */
export async function restore(deps: PatchDeps, record: PatchRecord, containerId: string): Promise<void> {
  const back: TarFile[] = record.files
    .filter((f) => f.before.existed)
    .map((f) => ({path: f.path, content: readCopy(deps.config, record.id, 'before', f.path), mode: f.before.mode ?? 0o644}))
  if (back.length) await deps.engine.putArchive(containerId, '/', packFiles(back))
  const created = record.files.filter((f) => !f.before.existed).map((f) => f.path)
  if (created.length) {
    // The Engine API cannot delete a file: rm inside the container does, which needs it running
    // (a patch that crashed it left it exited; it starts on the files just put back).
    if ((await deps.engine.inspect(containerId)).state !== 'running') await deps.engine.start(containerId)
    const r = await deps.engine.exec(containerId, ['rm', '-f', ...created])
    if (r.exitCode !== 0) {
      throw new PlatformError('CHECK_FAILED', `could not remove the files the patch created (${created.join(', ')}): ${r.output.trim()}`)
    }
  }
}
