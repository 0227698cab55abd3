import type {PlatformConfig} from '../core/index.js'
import type {LifecycleDeps} from '../stack/index.js'

/** What the patcher is given: the container lifecycle's engine (and clock), the ledger's place, and the CLI's hooks. */
export interface PatchDeps extends LifecycleDeps {
  config: PlatformConfig
  /** a short smoke run through the gateway; resolves with a failure text, or undefined when it passed */
  smoke?: () => Promise<string | undefined>
  /** the local tree's git commit, when there is one */
  git?: () => Promise<{commit: string; dirty: boolean} | undefined>
  /** test fault injection: called between the copy and the restart */
  afterCopy?: () => Promise<void>
  /** runs one named step (the CLI shows it as a task list); by default just runs it */
  step?: <T>(title: string, fn: () => Promise<T>) => Promise<T>
}

export const runStep = (deps: PatchDeps) => deps.step ?? (<T>(_title: string, fn: () => Promise<T>) => fn())
