import {userInfo} from 'node:os'
import {join, posix} from 'node:path'
import {PlatformError, acquireLock, isPlatformError, probeReady, sha256, type PlatformConfig} from '../core/index.js'
import {PROJECT, isInstanceOf, type ContainerDetail, type Engine} from '../stack/index.js'
import {collectFiles, type PatchFile} from './files.js'
import {isActive, listRecords, newPatchId, patchesDir, readCopy, saveCopy, saveRecord, type PatchRecord} from './ledger.js'
import {packFiles, unpackFiles, type TarFile} from './tarball.js'

export interface PatchDeps {
  config: PlatformConfig
  engine: Engine
  /** a short smoke run through the gateway; resolves with a failure text, or undefined when it passed */
  smoke?: () => Promise<string | undefined>
  /** the local tree's git commit, when there is one */
  git?: () => Promise<{commit: string; dirty: boolean} | undefined>
  log?: (line: string) => void
  sleep?: (ms: number) => Promise<void>
  /** test fault injection: called between the copy and the restart */
  afterCopy?: () => Promise<void>
  /** runs one named step (the CLI shows it as a task list); by default just runs it */
  step?: <T>(title: string, fn: () => Promise<T>) => Promise<T>
}

const runStep = (deps: PatchDeps) => deps.step ?? (<T>(_title: string, fn: () => Promise<T>) => fn())
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`

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
  files: Array<{path: string; local?: string; existed?: boolean}>
  outcome: PatchRecord['outcome'] | 'dry-run'
  reason?: string
}

const sleeper = (deps: PatchDeps) => deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))

/** The newest container of service, in any state: the platform project's, or with force another project's. */
export async function findContainer(engine: Engine, service: string, force = false): Promise<ContainerDetail> {
  const all = (await engine.containers({all: true})).filter((c) => isInstanceOf(c, service)).sort((a, b) => b.created - a.created)
  const own = all.find((c) => c.project === PROJECT)
  const other = all.find((c) => c.project !== PROJECT)
  const chosen = own ?? (force ? other : undefined)
  if (!chosen) {
    if (other) {
      throw new PlatformError('USAGE', `${service} runs only in ${other.project ? `compose project ${other.project}` : 'no compose project'} (container ${other.name})`, {
        suggestion: `patch it anyway with --force, or move it first: platform stack relocate ${service}`,
      })
    }
    throw new PlatformError('NOT_FOUND', `no container runs ${service}`, {suggestion: 'start the stack with `platform up --docker`'})
  }
  return engine.inspect(chosen.id)
}

function mustRun(d: ContainerDetail, service: string): ContainerDetail {
  if (d.state !== 'running') {
    throw new PlatformError('CHECK_FAILED', `container ${d.name} of ${service} is ${d.state}: a patch needs a running container`, {suggestion: `start it first (docker start ${d.name}) or recreate it with platform up --docker`})
  }
  return d
}

/** The running container of service: the platform project's, or with force another project's. */
export async function resolveContainer(engine: Engine, service: string, force = false): Promise<ContainerDetail> {
  return mustRun(await findContainer(engine, service, force), service)
}

/** Waits for a lock on the container, so two patches on one container never interleave. */
async function lockContainer(deps: PatchDeps, c: ContainerDetail, timeoutMs = 120_000): Promise<() => void> {
  const path = join(patchesDir(deps.config), 'locks', `${c.id}.lock`)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return acquireLock(path, `container ${c.name}`, 'LOCKED')
    } catch (err) {
      if (!isPlatformError(err, 'LOCKED') || Date.now() > deadline) throw err
      deps.log?.(`waiting: ${(err as Error).message}`)
      await sleeper(deps)(500)
    }
  }
}

/**
 * Takes the container's lock, then checks that it runs: a patch that held the lock may have
 * been restarting it, so only its state under the lock counts.
 */
async function lockRunning(deps: PatchDeps, c: ContainerDetail, service: string): Promise<{c: ContainerDetail; release: () => void}> {
  const release = await lockContainer(deps, c)
  try {
    return {c: mustRun(await deps.engine.inspect(c.id), service), release}
  } catch (err) {
    release()
    throw err
  }
}

/** The container's copy of each path before the patch; a path that does not exist is recorded as new. */
type Saved = {existed: false} | {existed: true; content: Buffer; mode: number}

const notAFile = (path: string, type: string) =>
  new PlatformError('USAGE', `${path} in the container is a ${type}, not a file`, {suggestion: 'patch the files inside it, e.g. a local directory onto it'})

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
 * The container's copy of each path before the patch; a path that does not exist is
 * recorded as new. Files that share a directory come in one archive of it (one round
 * trip, not one per file); a file alone in its directory comes by itself.
 */
async function backup(engine: Engine, id: string, paths: string[]): Promise<Map<string, Saved>> {
  const out = new Map<string, Saved>()
  const byDir = new Map<string, string[]>()
  for (const p of paths) byDir.set(posix.dirname(p), [...(byDir.get(posix.dirname(p)) ?? []), p])
  for (const [dir, group] of byDir) {
    if (group.length === 1) {
      const e = (await archive(engine, id, group[0]!))?.[0]
      if (e && e.type !== 'file') throw notAFile(group[0]!, e.type)
      out.set(group[0]!, e ? {existed: true, content: e.content, mode: e.mode} : {existed: false})
      continue
    }
    // Entries of a directory's archive are named <its basename>/<relative path>.
    const entries = new Map(((await archive(engine, id, dir)) ?? []).map((e) => [e.name.replace(/\/$/, ''), e]))
    for (const p of group) {
      const e = entries.get(posix.join(posix.basename(dir) || '.', posix.basename(p)))
      if (e && e.type !== 'file') throw notAFile(p, e.type)
      out.set(p, e ? {existed: true, content: e.content, mode: e.mode} : {existed: false})
    }
  }
  return out
}

/** After a restart: healthy by the container's healthcheck, else its health route answering, else still running. */
export async function healthGate(deps: PatchDeps, id: string, timeoutMs: number): Promise<string | undefined> {
  const sleep = sleeper(deps)
  const deadline = Date.now() + timeoutMs
  let last = ''
  let runningSince: number | undefined
  while (Date.now() < deadline) {
    const d = await deps.engine.inspect(id)
    if (d.state === 'exited' || d.state === 'dead') return `the container ${d.state} after the restart`
    // Docker may still show the health of before the restart: only a check since counts.
    const fresh = d.healthCheckedAt && d.startedAt && Date.parse(d.healthCheckedAt) >= Date.parse(d.startedAt)
    if (d.state === 'running') {
      if (d.health === 'healthy' && fresh) return undefined
      if (d.health === 'unhealthy' && fresh) return `its healthcheck fails: ${d.healthLog || 'unhealthy'}`
      if (d.health === undefined) {
        const port = d.ports[0]
        if (port) {
          // Any answer short of a server error counts: the route may not be the platform's.
          const r = await probeReady(`http://127.0.0.1:${port.host}`)
          if (r.status !== undefined && r.status < 500) return undefined
          last = r.status === undefined ? `its port ${port.host} does not answer (${r.detail})` : `its health route answers ${r.status}`
        } else {
          runningSince ??= Date.now()
          if (Date.now() - runningSince >= 3000) return undefined
        }
      } else last = `health ${d.health}`
    }
    await sleep(250)
  }
  return `not healthy within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last})` : ''}`
}

/** Restart, then the health gate, as two steps; throws the reason when it is not healthy. */
async function restartAndCheck(deps: PatchDeps, c: {id: string; name: string}, timeoutMs: number, again = false): Promise<void> {
  const step = runStep(deps)
  await step(`Restart ${c.name}${again ? ' again' : ''}`, () => deps.engine.restart(c.id))
  await step(`Healthy${again ? ' again' : ''} within ${Math.round(timeoutMs / 1000)} s`, async () => {
    const failure = await healthGate(deps, c.id, timeoutMs)
    if (failure) throw new PlatformError('CHECK_FAILED', failure)
  })
}

/** Puts the saved files back and removes the ones the patch created. */
async function restore(deps: PatchDeps, record: PatchRecord, containerId: string): Promise<void> {
  const back: TarFile[] = record.files.filter((f) => f.before.existed).map((f) => ({path: f.path, content: readCopy(deps.config, record.id, 'before', f.path), mode: f.before.mode ?? 0o644}))
  if (back.length) await deps.engine.putArchive(containerId, '/', packFiles(back))
  const created = record.files.filter((f) => !f.before.existed).map((f) => f.path)
  if (created.length) {
    // The Engine API cannot delete a file: rm inside the container does, which needs it running
    // (a patch that crashed it left it exited; it starts on the files just put back).
    if ((await deps.engine.inspect(containerId)).state !== 'running') await deps.engine.start(containerId)
    const r = await deps.engine.exec(containerId, ['rm', '-f', ...created])
    if (r.exitCode !== 0) throw new PlatformError('CHECK_FAILED', `could not remove the files the patch created (${created.join(', ')}): ${r.output.trim()}`)
  }
}

/**
 * Copies files into a container with one tar, recorded in the ledger before the restart;
 * then restarts and gates on health (and the smoke check), and rolls back when either fails.
 */
async function install(deps: PatchDeps, c: ContainerDetail, service: string, files: Array<Pick<PatchFile, 'target' | 'content' | 'mode' | 'sha256'> & {local?: string}>, opts: {message?: string; restart: boolean; healthTimeoutMs: number; smoke: boolean}): Promise<PatchRecord> {
  const step = runStep(deps)
  const n = plural(files.length, 'file')
  const saved: Map<string, Saved> = await step(`Save the container's copies of ${n}`, () => backup(deps.engine, c.id, files.map((f) => f.target)))
  const now = new Date()
  const record: PatchRecord = {
    id: newPatchId(now),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    user: userInfo().username,
    pid: process.pid,
    service,
    container: {id: c.id, name: c.name},
    image: {ref: c.image, id: c.imageId},
    git: await deps.git?.().catch(() => undefined),
    message: opts.message,
    files: files.map((f) => {
      const b = saved.get(f.target)!
      return {path: f.target, local: f.local, before: b.existed ? {existed: true, sha256: sha256(b.content), mode: b.mode} : {existed: false}, after: {sha256: f.sha256, mode: f.mode}}
    }),
    outcome: 'copying',
  }
  for (const f of files) {
    const b = saved.get(f.target)!
    if (b.existed) saveCopy(deps.config, record.id, 'before', f.target, b.content, b.mode)
    saveCopy(deps.config, record.id, 'after', f.target, f.content, f.mode)
  }
  // The ledger is written before anything changes, and again before the restart, so a
  // crash at any point leaves a record that patch list shows and patch rollback undoes.
  saveRecord(deps.config, record)
  await step(`Copy ${n} into ${c.name}`, () => deps.engine.putArchive(c.id, '/', packFiles(files.map((f) => ({path: f.target, content: f.content, mode: f.mode})))))
  record.outcome = 'copied'
  saveRecord(deps.config, record)
  await deps.afterCopy?.()
  if (!opts.restart) {
    record.outcome = 'applied'
    saveRecord(deps.config, record)
    return record
  }
  let failure: string | undefined
  try {
    await restartAndCheck(deps, c, opts.healthTimeoutMs)
    if (opts.smoke && deps.smoke) {
      await step('Smoke check through the gateway', async () => {
        const smoke = await deps.smoke!()
        if (smoke) throw new PlatformError('CHECK_FAILED', `the smoke check failed: ${smoke}`)
      })
    }
  } catch (err) {
    failure = (err as Error).message
  }
  if (!failure) {
    record.outcome = 'applied'
    saveRecord(deps.config, record)
    return record
  }
  record.reason = failure
  try {
    await step('Put the saved files back', () => restore(deps, record, c.id))
    await restartAndCheck(deps, c, opts.healthTimeoutMs, true)
    record.outcome = 'rolled-back'
  } catch (err) {
    const state = await deps.engine.inspect(c.id).then((d) => `${d.state}${d.health ? `, ${d.health}` : ''}`, () => 'unknown')
    record.outcome = 'rollback-failed'
    record.reason = `${failure}; the rollback failed too: ${(err as Error).message} (container ${c.name} is ${state})`
  }
  saveRecord(deps.config, record)
  return record
}

export async function applyPatch(deps: PatchDeps, service: string, opts: ApplyOptions): Promise<ApplyResult> {
  const found = await findContainer(deps.engine, service, opts.force)
  const files = collectFiles(opts.paths, {to: opts.to, mappings: deps.config.patchMappings, cwd: opts.cwd ?? deps.config.root})
  if (opts.dryRun) {
    return {service, container: mustRun(found, service).name, outcome: 'dry-run', files: files.map((f) => ({path: f.target, local: f.local}))}
  }
  const {c, release} = await lockRunning(deps, found, service)
  try {
    const r = await install(deps, c, service, files, {message: opts.message, restart: opts.restart ?? true, healthTimeoutMs: opts.healthTimeoutMs ?? 60_000, smoke: Boolean(opts.smoke)})
    return {id: r.id, service, container: c.name, outcome: r.outcome, reason: r.reason, files: r.files.map((f) => ({path: f.path, local: f.local, existed: f.before.existed}))}
  } finally {
    release()
  }
}

/** Active patches of one container (or service), oldest first. */
function activeFor(deps: PatchDeps, pick: (r: PatchRecord) => boolean): PatchRecord[] {
  return listRecords(deps.config).filter((r) => isActive(r) && pick(r))
}

export interface RollbackResult {
  reverted: string[]
  container: string
  outcome: 'reverted' | 'failed'
  reason?: string
}

/**
 * Undoes a patch (and the later ones on its container that touched the same files), or
 * every active patch of a service: latest first, so each file ends as it was before the
 * earliest of them. Then restarts with the same health gate.
 */
export async function rollbackPatch(deps: PatchDeps, target: string, opts: {healthTimeoutMs?: number} = {}): Promise<RollbackResult> {
  const all = listRecords(deps.config)
  const byId = all.find((r) => r.id === target)
  let undo: PatchRecord[]
  if (byId) {
    if (!isActive(byId)) throw new PlatformError('USAGE', `patch ${target} is ${byId.outcome}: there is nothing of it to undo`)
    const paths = new Set(byId.files.map((f) => f.path))
    undo = activeFor(deps, (r) => r.container.id === byId.container.id && r.createdAt >= byId.createdAt && (r.id === byId.id || r.files.some((f) => paths.has(f.path))))
  } else {
    undo = activeFor(deps, (r) => r.service === target)
    if (!undo.length) throw new PlatformError('NOT_FOUND', `no active patch with id or service ${target}`, {suggestion: 'see `platform patch list`'})
  }
  const containerId = undo[0]!.container.id
  const refuse = (d?: ContainerDetail) =>
    new PlatformError('CHECK_FAILED', `the patched container ${undo[0]!.container.name} is ${d?.state ?? 'gone'}`, {
      suggestion: d ? `start it first (docker start ${d.name})` : 'a recreated container runs its image: there is nothing to roll back; the records stay for reference',
    })
  const found = await deps.engine.inspect(containerId).catch(() => undefined)
  if (!found) throw refuse()
  const release = await lockContainer(deps, found)
  try {
    // Checked under the lock: a patch that held it may have been restarting the container.
    const d = await deps.engine.inspect(containerId)
    if (d.state !== 'running') throw refuse(d)
    const step = runStep(deps)
    for (const r of [...undo].reverse()) await step(`Put back the files ${r.id} replaced`, () => restore(deps, r, containerId))
    const failure = await restartAndCheck(deps, d, opts.healthTimeoutMs ?? 60_000).then(
      () => undefined,
      (err: Error) => err.message,
    )
    for (const r of undo) {
      r.outcome = 'reverted'
      r.reason = `rolled back by patch rollback ${target}`
      saveRecord(deps.config, r)
    }
    return {reverted: undo.map((r) => r.id), container: d.name, outcome: failure ? 'failed' : 'reverted', reason: failure}
  } finally {
    release()
  }
}

/**
 * After a service's container was recreated (its id changed), puts its active patches
 * back in order, as one patch on the new container, with the same health gate and rollback.
 */
export async function reapplyPatches(deps: PatchDeps, service: string, opts: {healthTimeoutMs?: number} = {}): Promise<ApplyResult & {patches: string[]}> {
  const found = await findContainer(deps.engine, service)
  const stale = activeFor(deps, (r) => r.service === service && r.container.id !== found.id)
  if (!stale.length) return {service, container: found.name, outcome: 'applied', files: [], patches: []}
  const files = new Map<string, {target: string; content: Buffer; mode: number; sha256: string; local?: string}>()
  for (const r of stale) {
    for (const f of r.files) files.set(f.path, {target: f.path, content: readCopy(deps.config, r.id, 'after', f.path), mode: f.after.mode, sha256: f.after.sha256, local: f.local})
  }
  const {c, release} = await lockRunning(deps, found, service)
  try {
    const rec = await install(deps, c, service, [...files.values()], {message: `reapply of ${stale.map((r) => r.id).join(', ')}`, restart: true, healthTimeoutMs: opts.healthTimeoutMs ?? 60_000, smoke: false})
    if (rec.outcome === 'applied') {
      // The re-application carries them now; the originals stay as history of where they came from.
      for (const r of stale) {
        r.reapplied = [...(r.reapplied ?? []), {containerId: c.id, at: new Date().toISOString()}]
        r.outcome = 'superseded'
        r.reason = `re-applied as ${rec.id} on ${c.name}`
        saveRecord(deps.config, r)
      }
    }
    return {id: rec.id, service, container: c.name, outcome: rec.outcome, reason: rec.reason, files: rec.files.map((f) => ({path: f.path, existed: f.before.existed})), patches: stale.map((r) => r.id)}
  } finally {
    release()
  }
}
