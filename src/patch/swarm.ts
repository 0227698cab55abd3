import {userInfo} from 'node:os'
import {PlatformError, pollUntil, sha256, type PlatformConfig, type PlatformStatus} from '../core/index.js'
import {
  STACK,
  localTaskContainers,
  packFiles,
  type Engine,
  type Finding,
  type SwarmEngine,
  type SwarmService,
  type SwarmTask,
} from '../stack/index.js'
import type {ApplyOptions, ApplyResult, RollbackResult} from './apply.js'
import {collectFiles, type PatchFile} from './files.js'
import {isActive, listRecords, newPatchId, saveCopy, saveRecord, type PatchRecord} from './ledger.js'
import {readBack, snapshot, type Expected} from './snapshot.js'
import type {PatchDeps} from './types.js'
import {runStep} from './types.js'

/** What a patch of a Swarm service needs: the engine for images and files, its Swarm half for the rollout. */
export interface SwarmPatchDeps extends PatchDeps {
  engine: Engine
  swarm: SwarmEngine
}

export interface ImagePatchPlan {
  id: string
  service: string
  /** the image the service runs now, which the patch adds a layer to */
  base: string
  /** the patched image: the base's repository, tagged patch-<id> */
  ref: string
  labels: Record<string, string>
  files: Array<{path: string; local: string; sha256: string; mode: number}>
}

/** The base's repository (registry and path kept, tag and digest dropped), tagged patch-<id>. */
export function patchImageRef(base: string, id: string): string {
  const name = base.split('@')[0]!
  const colon = name.lastIndexOf(':')
  const repo = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name
  return `${repo}:patch-${id}`
}

/** The registry an image reference names (its first component, when that is a host), else undefined: a local image. */
export function registryOf(ref: string): string | undefined {
  const first = ref.split('/')[0]!
  return ref.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : undefined
}

/** The patch as an image, decided before anything changes (what --dry-run shows and the ledger records). */
export function planImagePatch(service: SwarmService, files: PatchFile[], id: string): ImagePatchPlan {
  return {
    id,
    service: service.name,
    base: service.image,
    ref: patchImageRef(service.image, id),
    labels: {'platform.patch': id, 'platform.patch.base': service.image, 'platform.patch.service': service.name},
    files: files.map((f) => ({path: f.target, local: f.local, sha256: f.sha256, mode: f.mode})),
  }
}

async function findService(swarm: SwarmEngine, name: string): Promise<SwarmService> {
  const all = await swarm.services(STACK)
  const s = all.find((x) => x.name === name)
  if (!s) {
    throw new PlatformError('NOT_FOUND', `the swarm stack ${STACK} has no service ${name}`, {
      suggestion: all.length ? `services: ${all.map((x) => x.name).join(', ')}` : 'deploy it with `platform up --swarm`',
    })
  }
  return s
}

/** Runs fn on a never-started container of image, removed afterwards whatever happens. */
async function withIdle<T>(deps: SwarmPatchDeps, image: string, fn: (id: string) => Promise<T>): Promise<T> {
  const id = await deps.swarm.createIdle(image)
  try {
    return await fn(id)
  } finally {
    await deps.engine.remove(id).catch(() => {})
  }
}

type Rollout = {outcome: 'applied'} | {outcome: 'rolled-back' | 'rollback-failed'; reason: string}

const lastFailure = (tasks: SwarmTask[]) =>
  tasks.filter((t) => t.error && (t.state === 'failed' || t.state === 'rejected')).sort((a, b) => b.at.localeCompare(a.at))[0]

/**
 * Follows Swarm's update of a service to image: applied when the update completed and every
 * replica runs image, healthy; rolled back when Swarm's failure action rolled it back. Past
 * the timeout the update is rolled back here, so nothing is left half-way.
 */
async function followRollout(deps: SwarmPatchDeps, service: SwarmService, image: string, timeoutMs: number): Promise<Rollout> {
  const result = await pollUntil<Rollout>(
    async () => {
      const s = (await deps.swarm.services(STACK)).find((x) => x.id === service.id)
      if (!s) return {outcome: 'rollback-failed', reason: `the service ${service.name} was removed during the update`}
      const tasks = await deps.swarm.tasks(s.fullName)
      const state = s.update?.state
      const why = () => [s.update?.message, lastFailure(tasks)?.error].filter(Boolean).join('; ')
      if (state === 'rollback_completed') return {outcome: 'rolled-back', reason: `Swarm rolled the update back: ${why()}`}
      if (state === 'paused' || state === 'rollback_paused') return {outcome: 'rollback-failed', reason: `the update is ${state}: ${why()}`}
      const running = tasks.filter((t) => t.desiredState === 'running' && t.state === 'running')
      if (state === 'completed' && running.length === s.desired && running.every((t) => t.image === image)) return {outcome: 'applied'}
      return undefined
    },
    {timeoutMs, everyMs: 1000, clock: deps.clock},
  )
  if (result) return result
  await deps.swarm.rollback(service.id)
  return {outcome: 'rolled-back', reason: `the replicas were not all running ${image} and healthy after ${timeoutMs / 1000} s; rolled back`}
}

/** Every running task of the service on this node holds the files as patched (a start that rewrote one is named). */
async function readBackTasks(
  deps: SwarmPatchDeps,
  service: SwarmService,
  image: string,
  expected: Expected[],
): Promise<string | undefined> {
  // Only the new tasks: a start-first update's old containers may still be stopping, and they never had the files.
  const current = new Set(
    (await deps.swarm.tasks(service.fullName))
      .filter((t) => t.desiredState === 'running' && t.state === 'running' && t.image === image && t.containerId)
      .map((t) => t.containerId),
  )
  for (const c of (await localTaskContainers(deps, service.name)).filter((x) => current.has(x.id))) {
    const problem = await readBack(deps.engine, c.id, expected)
    if (problem) return `${c.name}: ${problem}`
  }
  return undefined
}

/**
 * A hot patch of a Swarm service, as an image: the service's image plus the files as one
 * more layer (tagged patch-<id>, read back before it is used), recorded in the ledger before
 * anything changes, then rolled out by Swarm with the stack's update policy (start-first,
 * rollback on failure). Copying into one task's container would be lost at its next
 * reschedule, and would leave the replicas different.
 */
export async function applyImagePatch(deps: SwarmPatchDeps, name: string, opts: ApplyOptions): Promise<ApplyResult> {
  const service = await findService(deps.swarm, name)
  const files = collectFiles(opts.paths, {to: opts.to, mappings: deps.config.patchMappings, cwd: opts.cwd ?? deps.config.root})
  const plan = planImagePatch(service, files, newPatchId())
  const result = (r: Pick<ApplyResult, 'outcome' | 'reason'>): ApplyResult => ({
    id: plan.id,
    service: name,
    container: service.fullName,
    image: plan.ref,
    files: plan.files.map((f) => ({path: f.path, local: f.local})),
    ...r,
  })
  if (opts.dryRun) return {...result({outcome: 'dry-run'}), id: undefined}
  const step = runStep(deps)
  const now = new Date().toISOString()
  const record: PatchRecord = {
    id: plan.id,
    createdAt: now,
    updatedAt: now,
    user: userInfo().username,
    pid: process.pid,
    service: name,
    container: {id: service.id, name: service.fullName},
    image: {ref: plan.base, id: (await deps.engine.imageId(plan.base)) ?? ''},
    git: await deps.git?.(),
    message: opts.message,
    files: plan.files.map((f) => ({path: f.path, local: f.local, before: {existed: false}, after: {sha256: f.sha256, mode: f.mode}})),
    outcome: 'copying',
    swarm: {base: {ref: plan.base}, image: {ref: plan.ref}},
  }
  saveRecord(deps.config, record)
  const expected = plan.files.map((f) => ({path: f.path, sha256: f.sha256}))
  const build = step(`Image ${plan.ref}: ${plan.base} plus ${files.length} file${files.length > 1 ? 's' : ''}`, () =>
    withIdle(deps, plan.base, async (idle) => {
      const before = await snapshot(
        deps.engine,
        idle,
        files.map((f) => f.target),
      )
      record.files = files.map((f) => {
        const b = before.get(f.target)!
        if (b.existed) saveCopy(deps.config, plan.id, 'before', f.target, b.content, b.mode)
        saveCopy(deps.config, plan.id, 'after', f.target, f.content, f.mode)
        const was = b.existed ? {existed: true, sha256: sha256(b.content), mode: b.mode} : {existed: false}
        return {path: f.target, local: f.local, before: was, after: {sha256: f.sha256, mode: f.mode}}
      })
      await deps.engine.putArchive(idle, '/', packFiles(files.map((f) => ({path: f.target, content: f.content, mode: f.mode}))))
      record.swarm!.image.id = await deps.swarm.commit(idle, plan.ref, plan.labels)
    }),
  )
  // Nothing of the service changed yet: a failed build leaves a record that says so, not an incomplete patch.
  await build.catch((err: Error) => {
    finish(deps, record, result, {outcome: 'rolled-back', reason: `the patched image was not built: ${err.message}`})
    throw err
  })
  const inImage = await step('Files read back from the image', () =>
    withIdle(deps, plan.ref, (idle) => readBack(deps.engine, idle, expected)),
  )
  if (inImage)
    return finish(deps, record, result, {outcome: 'rolled-back', reason: `the patched image does not hold the files: ${inImage}`})
  const registry = registryOf(plan.ref)
  if (registry) await step(`Image pushed to ${registry}, for every node`, () => deps.swarm.push(plan.ref, plan.ref))
  record.outcome = 'copied'
  saveRecord(deps.config, record)
  await step(`docker service update --image ${plan.ref} ${service.fullName}`, () => deps.swarm.setImage(service.id, plan.ref))
  const timeoutMs = (opts.healthTimeoutMs ?? 60_000) + 30_000 // each replica's health, plus Swarm's monitor window
  let rollout = await step('Rolling update: every replica on the patched image and healthy, or rolled back by Swarm', () =>
    followRollout(deps, service, plan.ref, timeoutMs),
  )
  if (rollout.outcome === 'applied') {
    const rewritten = await step("Files read back from this node's new replicas", () => readBackTasks(deps, service, plan.ref, expected))
    if (rewritten) {
      await deps.swarm.setImage(service.id, plan.base)
      await followRollout(deps, service, plan.base, timeoutMs)
      rollout = {outcome: 'rolled-back', reason: `${rewritten}; the service runs ${plan.base} again`}
    }
  }
  return finish(deps, record, result, rollout)
}

function finish(
  deps: SwarmPatchDeps,
  record: PatchRecord,
  result: (r: Pick<ApplyResult, 'outcome' | 'reason'>) => ApplyResult,
  r: Rollout,
) {
  record.outcome = r.outcome
  if (r.outcome !== 'applied') record.reason = r.reason
  saveRecord(deps.config, record)
  return result(r)
}

/**
 * `patch rollback` of a Swarm service (or of one patch of it): the service goes back, by a
 * rolling update, to the image it ran before the earliest patch undone. A patch of one
 * undone keeps the later ones of the service undone too, since each image holds the ones before.
 */
export async function rollbackImagePatch(
  deps: SwarmPatchDeps,
  target: string,
  opts: {healthTimeoutMs?: number} = {},
): Promise<RollbackResult> {
  const active = listRecords(deps.config).filter((r) => r.swarm && isActive(r))
  const byId = active.find((r) => r.id === target)
  const undo = byId
    ? active.filter((r) => r.service === byId.service && r.createdAt >= byId.createdAt)
    : active.filter((r) => r.service === target)
  if (!undo.length)
    throw new PlatformError('NOT_FOUND', `no active Swarm patch with id or service ${target}`, {suggestion: 'see `platform patch list`'})
  const service = await findService(deps.swarm, undo[0]!.service)
  const base = undo[0]!.swarm!.base.ref
  const step = runStep(deps)
  await step(`docker service update --image ${base} ${service.fullName}`, () => deps.swarm.setImage(service.id, base))
  const rollout = await step(`Rolling update: every replica on ${base} and healthy`, () =>
    followRollout(deps, service, base, (opts.healthTimeoutMs ?? 60_000) + 30_000),
  )
  const failed = rollout.outcome !== 'applied'
  if (!failed) {
    for (const r of undo) {
      r.outcome = 'reverted'
      r.reason = `rolled back by patch rollback ${target}: ${service.name} runs ${base} again`
      saveRecord(deps.config, r)
    }
  }
  return {
    reverted: failed ? [] : undo.map((r) => r.id),
    container: service.fullName,
    outcome: failed ? 'failed' : 'reverted',
    ...(failed ? {reason: (rollout as {reason: string}).reason} : {}),
  }
}

/**
 * The swarm status with each service's count of active image patches it runs: the one its image
 * is, and the earlier ones that image was built on.
 */
export function countImagePatches(config: PlatformConfig, status: PlatformStatus): PlatformStatus {
  const active = listRecords(config).filter((r) => r.swarm && isActive(r))
  for (const svc of status.services) {
    const mine = active.filter((r) => r.service === svc.name)
    const running = mine.find((r) => r.swarm!.image.ref === svc.image)
    if (running) svc.patches = mine.filter((r) => r.createdAt <= running.createdAt).length
  }
  return status
}

/**
 * Drift on Swarm, for `stack doctor`: services that run a patched image, which the repository's
 * tree does not hold until the change is committed and the image rebuilt.
 */
export async function findImageDrift(config: PlatformConfig, swarm: SwarmEngine): Promise<Finding[]> {
  if (!(await swarm.info().catch(() => undefined))?.manager) return []
  const active = listRecords(config).filter((r) => r.swarm && isActive(r))
  return (await swarm.services(STACK)).flatMap((s) => {
    const r = active.find((x) => x.service === s.name && x.swarm!.image.ref === s.image)
    if (!r && !/:patch-p-/.test(s.image)) return []
    return [
      {
        kind: 'drift' as const,
        service: s.name,
        message:
          `${s.fullName} runs the patched image ${s.image}` +
          `${r ? ` (patch ${r.id})` : ', which no patch of this ledger made'}, not one built from the tree`,
        fix: `commit the change and rebuild: platform up --swarm --build (or platform patch rollback ${s.name})`,
      },
    ]
  })
}
