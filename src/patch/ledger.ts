import {mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {pidAlive, type PlatformConfig} from '../core/index.js'

export type Outcome =
  /** files are being copied in */
  | 'copying'
  /** copied, restart and health check not yet done */
  | 'copied'
  | 'applied'
  /** the health gate (or the smoke check) failed and the old files were put back */
  | 'rolled-back'
  /** healthy, but the container's own start rewrote patched files: the old files were put back */
  | 'overwritten'
  /** the health gate failed and so did putting the old files back */
  | 'rollback-failed'
  /** undone later by `patch rollback` */
  | 'reverted'
  /** its container was recreated and `patch reapply` carried it over in a new patch */
  | 'superseded'

export interface PatchFileRecord {
  path: string
  local?: string
  before: {existed: boolean; sha256?: string; mode?: number}
  after: {sha256: string; mode: number}
}

export interface PatchRecord {
  id: string
  createdAt: string
  updatedAt: string
  user: string
  /** the process writing it: a record left 'copying' or 'copied' by a dead process is incomplete */
  pid: number
  service: string
  container: {id: string; name: string}
  image: {ref: string; id: string}
  git?: {commit: string; dirty: boolean}
  message?: string
  files: PatchFileRecord[]
  outcome: Outcome
  /** why it failed or was rolled back */
  reason?: string
  /** containers it was re-applied to after the service was recreated */
  reapplied?: Array<{containerId: string; at: string}>
  /**
   * On Swarm a patch is an image: the service's image before it (base) and the patched one,
   * rolled out by `docker service update`. Then container is the service (its id and name).
   */
  swarm?: {base: {ref: string; id?: string}; image: {ref: string; id?: string}}
}

export const patchesDir = (config: PlatformConfig): string => join(config.stateDir, 'patches')
export const patchDir = (config: PlatformConfig, id: string): string => join(patchesDir(config), id)
/** Where a patch keeps the container's files from before it (before/) and its own (after/). */
type Side = 'before' | 'after'
export const copyPath = (config: PlatformConfig, id: string, side: Side, path: string): string => join(patchDir(config, id), side, path)

/** Writes the record atomically (rename), so a crash never leaves half a record. */
export function saveRecord(config: PlatformConfig, r: PatchRecord): void {
  const file = join(patchDir(config, r.id), 'patch.json')
  mkdirSync(dirname(file), {recursive: true})
  r.updatedAt = new Date().toISOString()
  writeFileSync(`${file}.tmp`, `${JSON.stringify(r, null, 2)}\n`)
  renameSync(`${file}.tmp`, file)
}

export function saveCopy(config: PlatformConfig, id: string, side: Side, path: string, content: Buffer, mode: number): void {
  const file = copyPath(config, id, side, path)
  mkdirSync(dirname(file), {recursive: true})
  writeFileSync(file, content, {mode: mode & 0o777})
}

export const readCopy = (config: PlatformConfig, id: string, side: Side, path: string): Buffer =>
  readFileSync(copyPath(config, id, side, path))

/** Every record, oldest first. */
export function listRecords(config: PlatformConfig): PatchRecord[] {
  const dir = patchesDir(config)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, 'patch.json')))
    .map((d) => JSON.parse(readFileSync(join(dir, d, 'patch.json'), 'utf8')) as PatchRecord)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
}

/** Stopped half-way (the process that wrote it is gone): its files may be in the container. */
export const isIncomplete = (r: PatchRecord): boolean => (r.outcome === 'copying' || r.outcome === 'copied') && !pidAlive(r.pid)

/** Patches whose files are (or may be) in their container: what drift is made of, and what rollback undoes. */
export const isActive = (r: PatchRecord): boolean => r.outcome === 'applied' || isIncomplete(r)

export function newPatchId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return `p-${stamp}-${Math.random().toString(16).slice(2, 6)}`
}
