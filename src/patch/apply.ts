import {PlatformError} from '../core/index.js'
import {findServiceContainer, mustRun, withContainerLock, type ContainerDetail} from '../stack/index.js'
import {collectFiles} from './files.js'
import {isActive, listRecords, readCopy, saveRecord, type PatchRecord} from './ledger.js'
import {install, putBack, type NewFile} from './machine.js'
import type {PatchDeps} from './types.js'

export interface ApplyOptions {
  paths: string[]
  to?: string
  message?: string
  restart?: boolean
  healthTimeoutMs?: number
  smoke?: boolean
  dryRun?: boolean
  /** patch a container of another compose project */
  force?: boolean
  cwd?: string
}

export interface ApplyResult {
  id?: string
  service: string
  container: string
  /** on Swarm: the patched image rolled out */
  image?: string
  files: Array<{path: string; local?: string; existed?: boolean}>
  outcome: PatchRecord['outcome'] | 'dry-run'
  reason?: string
}

const HEALTH_TIMEOUT_MS = 60_000

const resultOf = (r: PatchRecord, service: string, c: ContainerDetail): ApplyResult => ({
  id: r.id,
  service,
  container: c.name,
  outcome: r.outcome,
  reason: r.reason,
  files: r.files.map((f) => ({path: f.path, local: f.local, existed: f.before.existed})),
})

/** Copies files into a service's running container, restarts it and checks it (machine.ts), under its lock. */
export async function applyPatch(deps: PatchDeps, service: string, opts: ApplyOptions): Promise<ApplyResult> {
  const found = await findServiceContainer(deps.engine, service, opts.force)
  const files = collectFiles(opts.paths, {to: opts.to, mappings: deps.config.patchMappings, cwd: opts.cwd ?? deps.config.root})
  if (opts.dryRun) {
    const planned = files.map((f) => ({path: f.target, local: f.local}))
    return {service, container: mustRun(found, service).name, outcome: 'dry-run', files: planned}
  }
  return withContainerLock(deps, found, async (d) => {
    const c = mustRun(d, service)
    const options = {
      message: opts.message,
      restart: opts.restart ?? true,
      healthTimeoutMs: opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS,
      smoke: Boolean(opts.smoke),
    }
    return resultOf(await install(deps, c, service, files, options), service, c)
  })
}

/** Active patches matching pick, oldest first. */
const activeWhere = (deps: PatchDeps, pick: (r: PatchRecord) => boolean): PatchRecord[] =>
  listRecords(deps.config).filter((r) => isActive(r) && pick(r))

export interface RollbackResult {
  reverted: string[]
  container: string
  outcome: 'reverted' | 'failed'
  reason?: string
}

/** The patches `patch rollback target` undoes, oldest first: one (with the later ones on its files), or a service's. */
function toUndo(deps: PatchDeps, target: string): PatchRecord[] {
  const byId = listRecords(deps.config).find((r) => r.id === target)
  if (byId) {
    if (!isActive(byId)) throw new PlatformError('USAGE', `patch ${target} is ${byId.outcome}: there is nothing of it to undo`)
    const paths = new Set(byId.files.map((f) => f.path))
    const sameFiles = (r: PatchRecord) => r.id === byId.id || r.files.some((f) => paths.has(f.path))
    return activeWhere(deps, (r) => r.container.id === byId.container.id && r.createdAt >= byId.createdAt && sameFiles(r))
  }
  const undo = activeWhere(deps, (r) => r.service === target)
  if (!undo.length) {
    throw new PlatformError('NOT_FOUND', `no active patch with id or service ${target}`, {suggestion: 'see `platform patch list`'})
  }
  return undo
}

/**
 * Undoes a patch (and the later ones on its container that touched the same files), or
 * every active patch of a service: latest first, so each file ends as it was before the
 * earliest of them. Then restarts with the same health gate and reads the files back.
 */
export async function rollbackPatch(deps: PatchDeps, target: string, opts: {healthTimeoutMs?: number} = {}): Promise<RollbackResult> {
  const undo = toUndo(deps, target)
  const {id, name} = undo[0]!.container
  const refuse = (d?: ContainerDetail) =>
    new PlatformError('CHECK_FAILED', `the patched container ${name} is ${d?.state ?? 'gone'}`, {
      suggestion: d
        ? `start it first (docker start ${d.name})`
        : 'a recreated container runs its image: there is nothing to roll back; the records stay for reference',
    })
  const found = await deps.engine.inspect(id).catch(() => undefined)
  if (!found) throw refuse()
  return withContainerLock(deps, found, async (d) => {
    if (d.state !== 'running') throw refuse(d)
    const failure = await putBack(deps, d, [...undo].reverse(), opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS).then(
      () => undefined,
      (err: Error) => err.message,
    )
    for (const r of undo) {
      r.outcome = 'reverted'
      r.reason = `rolled back by patch rollback ${target}`
      saveRecord(deps.config, r)
    }
    return {reverted: undo.map((r) => r.id), container: d.name, outcome: failure ? 'failed' : 'reverted', reason: failure}
  })
}

/**
 * After a service's container was recreated (its id changed), puts its active patches
 * back in order, as one patch on the new container, with the same checks and rollback.
 */
export async function reapplyPatches(
  deps: PatchDeps,
  service: string,
  opts: {healthTimeoutMs?: number} = {},
): Promise<ApplyResult & {patches: string[]}> {
  const found = await findServiceContainer(deps.engine, service)
  const stale = activeWhere(deps, (r) => r.service === service && r.container.id !== found.id)
  if (!stale.length) return {service, container: found.name, outcome: 'applied', files: [], patches: []}
  const files = new Map<string, NewFile>()
  for (const r of stale) {
    for (const f of r.files) {
      const content = readCopy(deps.config, r.id, 'after', f.path)
      files.set(f.path, {target: f.path, content, mode: f.after.mode, sha256: f.after.sha256, local: f.local})
    }
  }
  return withContainerLock(deps, found, async (d) => {
    const c = mustRun(d, service)
    const message = `reapply of ${stale.map((r) => r.id).join(', ')}`
    const healthTimeoutMs = opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS
    const rec = await install(deps, c, service, [...files.values()], {message, restart: true, healthTimeoutMs, smoke: false})
    if (rec.outcome === 'applied') {
      // The re-application carries them now; the originals stay as history of where they came from.
      for (const r of stale) {
        r.reapplied = [...(r.reapplied ?? []), {containerId: c.id, at: new Date().toISOString()}]
        r.outcome = 'superseded'
        r.reason = `re-applied as ${rec.id} on ${c.name}`
        saveRecord(deps.config, r)
      }
    }
    return {...resultOf(rec, service, c), patches: stale.map((r) => r.id)}
  })
}
