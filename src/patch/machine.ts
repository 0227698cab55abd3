import {userInfo} from 'node:os'
import {PlatformError, sha256} from '../core/index.js'
import {packFiles, restartAndWait, waitContainerHealthy, type ContainerDetail} from '../stack/index.js'
import {newPatchId, saveCopy, saveRecord, type Outcome, type PatchRecord} from './ledger.js'
import {before, readBack, restore, snapshot, type Expected, type Saved} from './snapshot.js'
import {runStep, type PatchDeps} from './types.js'

/** A file a patch puts into the container. */
export interface NewFile {
  target: string
  content: Buffer
  mode: number
  sha256: string
  local?: string
}

export interface InstallOptions {
  message?: string
  restart: boolean
  healthTimeoutMs: number
  smoke: boolean
}

/**
 * The states of a patch, in order. Each returns the next; a failure after the copy goes to
 * roll-back, which ends as the failure says (rolled-back, or overwritten when the container's
 * own start undid the files) or as rollback-failed. The ledger is written on entering copy
 * (copying), restart (copied) and the end, so a crash at any point leaves a record that
 * `patch list` shows and `patch rollback` undoes.
 */
type End = Extract<Outcome, 'applied' | 'rolled-back' | 'overwritten' | 'rollback-failed'>
type State = 'back-up' | 'copy' | 'restart' | 'gate' | 'verify' | 'smoke' | 'roll-back' | End

const RECORDED: Partial<Record<State, Outcome>> = {copy: 'copying', restart: 'copied'}
const ENDS = new Set<State>(['applied', 'rolled-back', 'overwritten', 'rollback-failed'])

interface Run {
  deps: PatchDeps
  c: ContainerDetail
  service: string
  files: NewFile[]
  opts: InstallOptions
  record?: PatchRecord
  /** why the patch failed, and what its rollback ends as */
  failure?: {reason: string; end: 'rolled-back' | 'overwritten'}
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`

/** Runs a check as a step; its failure text becomes the step's error and the run's failure. */
async function check(run: Run, title: string, fn: () => Promise<string | undefined>, end: 'rolled-back' | 'overwritten'): Promise<boolean> {
  const reason = await runStep(run.deps)(title, async () => {
    const failure = await fn()
    if (failure) throw new PlatformError('CHECK_FAILED', failure)
  }).then(
    () => undefined,
    (err: Error) => err.message,
  )
  if (reason) run.failure = {reason, end}
  return !reason
}

const STATES: Record<Exclude<State, End>, (run: Run) => Promise<State>> = {
  async 'back-up'(run) {
    const {deps, c, files} = run
    const saved: Map<string, Saved> = await runStep(deps)(`Save the container's copies of ${plural(files.length, 'file')}`, () =>
      snapshot(
        deps.engine,
        c.id,
        files.map((f) => f.target),
      ),
    )
    const now = new Date()
    run.record = {
      id: newPatchId(now),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      user: userInfo().username,
      pid: process.pid,
      service: run.service,
      container: {id: c.id, name: c.name},
      image: {ref: c.image, id: c.imageId},
      git: await deps.git?.().catch(() => undefined),
      message: run.opts.message,
      files: files.map((f) => {
        const b = saved.get(f.target)!
        return {
          path: f.target,
          local: f.local,
          before: b.existed ? {existed: true, sha256: sha256(b.content), mode: b.mode} : {existed: false},
          after: {sha256: f.sha256, mode: f.mode},
        }
      }),
      outcome: 'copying',
    }
    for (const f of files) {
      const b = saved.get(f.target)!
      if (b.existed) saveCopy(deps.config, run.record.id, 'before', f.target, b.content, b.mode)
      saveCopy(deps.config, run.record.id, 'after', f.target, f.content, f.mode)
    }
    return 'copy'
  },

  async copy(run) {
    const {deps, c, files} = run
    const tar = () => packFiles(files.map((f) => ({path: f.target, content: f.content, mode: f.mode})))
    await runStep(deps)(`Copy ${plural(files.length, 'file')} into ${c.name}`, () => deps.engine.putArchive(c.id, '/', tar()))
    return run.opts.restart ? 'restart' : 'applied'
  },

  async restart(run) {
    await run.deps.afterCopy?.()
    await runStep(run.deps)(`Restart ${run.c.name}`, () => run.deps.engine.restart(run.c.id))
    return 'gate'
  },

  async gate(run) {
    const ms = run.opts.healthTimeoutMs
    const ok = await check(run, `Healthy within ${seconds(ms)}`, () => waitContainerHealthy(run.deps, run.c.id, ms), 'rolled-back')
    return ok ? 'verify' : 'roll-back'
  },

  async verify(run) {
    const expected: Expected[] = run.files.map((f) => ({path: f.target, sha256: f.sha256}))
    const read = () => readBack(run.deps.engine, run.c.id, expected)
    const ok = await check(run, 'Patched files intact after the restart', read, 'overwritten')
    return ok ? 'smoke' : 'roll-back'
  },

  async smoke(run) {
    const smoke = run.deps.smoke
    if (!run.opts.smoke || !smoke) return 'applied'
    const ok = await check(
      run,
      'Smoke check through the gateway',
      async () => {
        const failure = await smoke()
        return failure && `the smoke check failed: ${failure}`
      },
      'rolled-back',
    )
    return ok ? 'applied' : 'roll-back'
  },

  async 'roll-back'(run) {
    const {deps, c, record, failure} = run
    record!.reason = failure!.reason
    try {
      await putBack(deps, c, [record!], run.opts.healthTimeoutMs, 'Put the saved files back')
      return failure!.end
    } catch (err) {
      const state = await deps.engine.inspect(c.id).then(
        (d) => `${d.state}${d.health ? `, ${d.health}` : ''}`,
        () => 'unknown',
      )
      record!.reason = `${failure!.reason}; the rollback failed too: ${(err as Error).message} (container ${c.name} is ${state})`
      return 'rollback-failed'
    }
  },
}

/**
 * Puts back what patches replaced (records latest first, so each file ends as it was before
 * the earliest), restarts, gates on health and reads every file back. Throws the reason when
 * any of it fails.
 */
export async function putBack(
  deps: PatchDeps,
  c: {id: string; name: string},
  undo: PatchRecord[],
  timeoutMs: number,
  title?: string,
): Promise<void> {
  const step = runStep(deps)
  for (const r of undo) await step(title ?? `Put back the files ${r.id} replaced`, () => restore(deps, r, c.id))
  const fails = (failure: string | undefined) => {
    if (failure) throw new PlatformError('CHECK_FAILED', failure)
  }
  await step(`Restart ${c.name}, healthy within ${seconds(timeoutMs)}`, async () => fails(await restartAndWait(deps, c.id, timeoutMs)))
  await step('Files as they were before', async () => fails(await readBack(deps.engine, c.id, before(undo))))
}

/** Installs files in a running container by the states above, holding its lock (the caller's); returns the record. */
export async function install(
  deps: PatchDeps,
  c: ContainerDetail,
  service: string,
  files: NewFile[],
  opts: InstallOptions,
): Promise<PatchRecord> {
  const run: Run = {deps, c, service, files, opts}
  let state: State = 'back-up'
  while (!ENDS.has(state)) {
    state = await STATES[state as Exclude<State, End>](run)
    const outcome = ENDS.has(state) ? (state as End) : RECORDED[state]
    if (run.record && outcome) {
      run.record.outcome = outcome
      saveRecord(deps.config, run.record)
    }
  }
  return run.record!
}
