/**
 * Hot patches (src/patch) against the FakeEngine: an in-memory Engine, since the patch plan,
 * backups, the states after the copy, rollback order and the path rules must be checked in
 * seconds without a Docker daemon. Local files, the ledger and the lock are real files in a
 * temp directory. The docker tier (test/docker/patch.test.ts) runs the same code on a real dockerd.
 */
import {mkdirSync, mkdtempSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadConfig, sha256} from '../../src/core/index.js'
import {applyPatch, collectFiles, listRecords, reapplyPatches, rollbackPatch, safeTarget, type PatchDeps} from '../../src/patch/index.js'
import {FakeEngine, type FakeFiles} from '../../src/stack/index.js'

const healthy = (files: FakeFiles) => files.get('/www/health.txt')?.content.toString() === 'ok\n'
const set = (files: FakeFiles, path: string, text: string) => files.set(path, {content: Buffer.from(text), mode: 0o644})
const REWRITES = (files: FakeFiles) => void set(files, '/www/index.html', 'original\n')

function scene(command?: (files: FakeFiles) => boolean | undefined) {
  const root = mkdtempSync(join(tmpdir(), 'platform-patch-unit-'))
  const engine = new FakeEngine()
  const steps: string[] = []
  const deps: PatchDeps = {
    config: loadConfig({cwd: root, env: {}}),
    engine,
    clock: engine.clock,
    step: async (title, fn) => {
      steps.push(title)
      return fn()
    },
  }
  const web = engine.add({
    name: 'platform-web-1',
    project: 'platform',
    service: 'web',
    healthcheck: healthy,
    command,
    files: {'/www/index.html': 'v1\n', '/www/health.txt': 'ok\n', '/etc/motd': 'hello\n'},
  })
  const write = (files: Record<string, string>) => {
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, p)), {recursive: true})
      writeFileSync(join(root, p), text)
    }
  }
  const apply = (paths: string[], to: string, extra: {restart?: boolean} = {}) => applyPatch(deps, 'web', {paths, to, cwd: root, ...extra})
  const calls = (op: string) => engine.calls.filter((c) => c.op === op).map((c) => c.arg)
  return {root, engine, deps, web, steps, write, apply, calls, ledger: () => listRecords(deps.config)}
}

describe('the patch plan: which local file goes where', () => {
  it('--to a directory keeps the tree; --to a file names it; patch.mappings use the longest prefix; dry-run changes nothing', async () => {
    const s = scene()
    s.write({'www/index.html': 'a', 'www/docs/deep/page.html': 'b', 'dist/src/app.js': 'c', 'dist/src/gw/app.js': 'd'})
    const targets = (paths: string[], opts: {to?: string; mappings?: Record<string, string>}) =>
      collectFiles(paths, {cwd: s.root, mappings: {}, ...opts}).map((f) => f.target)
    expect(targets(['www'], {to: '/srv/'})).toEqual(['/srv/docs/deep/page.html', '/srv/index.html'])
    expect(targets(['www/index.html'], {to: '/srv/'})).toEqual(['/srv/index.html'])
    expect(targets(['www/index.html'], {to: '/srv/home.html'})).toEqual(['/srv/home.html'])
    expect(targets(['dist'], {mappings: {'dist/': '/app/dist/', 'dist/src/gw/': '/gw/'}})).toEqual(['/app/dist/src/app.js', '/gw/app.js'])
    expect(() => targets(['www'], {})).toThrow('no container path for www')
    expect(() => targets(['www/index.html', 'dist/src/app.js'], {to: '/one'})).toThrow('would both become /one')
    expect(() => targets(['nope'], {to: '/x'})).toThrow('nope does not exist')

    const dry = await applyPatch(s.deps, 'web', {paths: ['www'], to: '/www/', dryRun: true, cwd: s.root})
    const planned = [{path: '/www/docs/deep/page.html'}, {path: '/www/index.html'}]
    expect(dry).toMatchObject({outcome: 'dry-run', container: 'platform-web-1', files: planned})
    expect(s.calls('putArchive')).toEqual([])
    expect(s.ledger()).toEqual([])
  })

  it('safeTarget: absolute and normalised, never .., never the root', () => {
    expect(safeTarget('/www//docs/./a.html')).toBe('/www/docs/a.html')
    expect(() => safeTarget('www/a')).toThrow('container path www/a is not absolute')
    expect(() => safeTarget('/www/../etc/passwd')).toThrow('contains ..')
    expect(() => safeTarget('/')).toThrow("cannot replace the container's root directory")
    expect(() => safeTarget('/./')).toThrow("cannot replace the container's root directory")
  })

  it('a symlink inside what is patched is followed; one pointing outside is refused (VALIDATION_FAILED)', () => {
    const s = scene()
    s.write({'site/real.html': 'r', 'outside.txt': 'secret'})
    symlinkSync(join(s.root, 'site/real.html'), join(s.root, 'site/link.html'))
    expect(collectFiles(['site'], {cwd: s.root, mappings: {}, to: '/www/'}).map((f) => f.target)).toEqual(['/www/real.html'])
    symlinkSync(join(s.root, 'outside.txt'), join(s.root, 'site/leak.txt'))
    const collect = (path: string, to: string) => collectFiles([path], {cwd: s.root, mappings: {}, to})
    expect(() => collect('site', '/www/')).toThrow(/leak\.txt is a symlink to .*outside\.txt, outside/)
    // A single file's symlink may point within its own directory.
    expect(collect('site/link.html', '/www/x.html').map((f) => f.local)).toEqual([join(s.root, 'site/real.html')])
  })
})

describe('applying a patch', () => {
  it('backs up files that share a directory in one archive, records the patch before the copy, restarts, verifies, applies', async () => {
    const s = scene()
    s.write({'p/www/index.html': 'v2\n', 'p/www/new.html': 'new\n', 'p/etc/motd': 'bye\n'})
    let recordedBeforeRestart = ''
    s.deps.afterCopy = async () => void (recordedBeforeRestart = s.ledger()[0]!.outcome)
    const r = await s.apply(['p'], '/')
    expect(r).toMatchObject({outcome: 'applied', container: 'platform-web-1'})
    expect(r.files.map((f) => [f.path, f.existed])).toEqual([
      ['/etc/motd', true],
      ['/www/index.html', true],
      ['/www/new.html', false],
    ])
    // One archive for /www (two files), one for the file alone in /etc: before the copy, and again to read back.
    expect(s.calls('getArchive')).toEqual(['/etc/motd', '/www', '/etc/motd', '/www'])
    expect(s.engine.calls.map((c) => c.op).filter((op) => ['getArchive', 'putArchive', 'restart'].includes(op))).toEqual([
      'getArchive',
      'getArchive',
      'putArchive',
      'restart',
      'getArchive',
      'getArchive',
    ])
    expect(recordedBeforeRestart).toBe('copied')
    expect(s.engine.text(s.web.id, '/www/new.html')).toBe('new\n')
    const [record] = s.ledger()
    expect(record).toMatchObject({outcome: 'applied', container: {id: s.web.id}, service: 'web'})
    expect(record!.files.find((f) => f.path === '/www/index.html')).toMatchObject({
      before: {existed: true, sha256: sha256('v1\n')},
      after: {sha256: sha256('v2\n')},
    })
    expect(s.steps).toEqual([
      "Save the container's copies of 3 files",
      'Copy 3 files into platform-web-1',
      'Restart platform-web-1',
      'Healthy within 60 s',
      'Patched files intact after the restart',
    ])
  })

  it('a file the container rewrites at start fails the patch although healthy: named, rolled back, recorded overwritten', async () => {
    const s = scene(REWRITES)
    s.write({'p/index.html': 'patched\n', 'p/page.html': 'survives\n'})
    const r = await s.apply(['p'], '/www/')
    expect(r.outcome).toBe('overwritten')
    expect(r.reason).toBe(
      '/www/index.html was rewritten when the container started (its command or entrypoint writes it); ' +
        'bake the change into the image, or patch the file that writes it',
    )
    // Back on its previous files (the new page removed), started again, healthy.
    expect(s.engine.text(s.web.id, '/www/index.html')).toBe('original\n')
    expect(s.engine.text(s.web.id, '/www/page.html')).toBeUndefined()
    expect((await s.engine.inspect(s.web.id)).state).toBe('running')
    expect(s.web.starts).toBe(3)
    expect(s.ledger().map((p) => p.outcome)).toEqual(['overwritten'])
    const back = ['Put the saved files back', 'Restart platform-web-1, healthy within 60 s', 'Files as they were before']
    expect(s.steps.slice(-3)).toEqual(back)
  })

  it('a file that survives the start of that same container passes', async () => {
    const s = scene(REWRITES)
    s.write({'p/page.html': 'survives\n'})
    expect((await s.apply(['p/page.html'], '/www/page.html')).outcome).toBe('applied')
    expect(s.engine.text(s.web.id, '/www/page.html')).toBe('survives\n')
  })

  it('several rewritten or removed files are each named', async () => {
    const s = scene((files) => {
      set(files, '/www/index.html', 'original\n')
      files.delete('/www/b.html')
    })
    s.write({'p/index.html': 'x', 'p/b.html': 'y'})
    const r = await s.apply(['p'], '/www/')
    expect(r.outcome).toBe('overwritten')
    expect(r.reason).toMatch(/^\/www\/b\.html was removed when the container started .*; \/www\/index\.html was rewritten when /)
    expect(r.reason).toMatch(/or patch the files that write them$/)
  })

  it('a failed health gate rolls back: the saved bytes back, created files removed (rm in the container), healthy again', async () => {
    const s = scene()
    s.write({'bad/health.txt': 'fail\n', 'bad/created.html': 'x'})
    const r = await s.apply(['bad'], '/www/')
    expect(r).toMatchObject({outcome: 'rolled-back', reason: 'its healthcheck fails: check failed'})
    expect(s.engine.text(s.web.id, '/www/health.txt')).toBe('ok\n')
    expect(s.engine.text(s.web.id, '/www/created.html')).toBeUndefined()
    expect(s.calls('exec')).toEqual(['rm -f /www/created.html'])
    expect((await s.engine.inspect(s.web.id)).health).toBe('healthy')
  })

  it('a copy that fails leaves the record written before it (copying) and the container as it was', async () => {
    const s = scene()
    s.write({'p/index.html': 'v2\n'})
    s.engine.failNext('putArchive', new Error('no space left on device'))
    await expect(s.apply(['p/index.html'], '/www/index.html')).rejects.toThrow('no space left on device')
    expect(s.ledger().map((p) => [p.outcome, p.files[0]!.before.sha256])).toEqual([['copying', sha256('v1\n')]])
    expect(s.engine.text(s.web.id, '/www/index.html')).toBe('v1\n')
    expect(s.calls('restart')).toEqual([])
  })

  it('a rollback that fails too is recorded as rollback-failed, with the container state', async () => {
    const s = scene()
    s.write({'bad/health.txt': 'fail\n'})
    const put = s.engine.putArchive.bind(s.engine)
    let puts = 0
    s.engine.putArchive = async (id, path, tar) => (++puts === 2 ? Promise.reject(new Error('disk full')) : put(id, path, tar))
    const r = await s.apply(['bad/health.txt'], '/www/health.txt')
    expect(r.outcome).toBe('rollback-failed')
    expect(r.reason).toBe(
      'its healthcheck fails: check failed; the rollback failed too: disk full (container platform-web-1 is running, unhealthy)',
    )
    expect(s.ledger().map((p) => p.outcome)).toEqual(['rollback-failed'])
  })

  it('patches on one container never interleave: the second backs up what the first copied', async () => {
    const s = scene()
    s.write({'one/same.html': 'one\n', 'two/same.html': 'two\n'})
    const [a, b] = await Promise.all([s.apply(['one/same.html'], '/www/same.html'), s.apply(['two/same.html'], '/www/same.html')])
    expect([a.outcome, b.outcome]).toEqual(['applied', 'applied'])
    const [first, second] = s.ledger().sort((x, y) => x.updatedAt.localeCompare(y.updatedAt))
    expect(first!.files[0]!.before.existed).toBe(false)
    expect(second!.files[0]!.before).toMatchObject({existed: true, sha256: first!.files[0]!.after.sha256})
    const order = s.engine.calls.map((c) => c.op).filter((op) => op === 'putArchive' || op === 'restart')
    expect(order).toEqual(['putArchive', 'restart', 'putArchive', 'restart'])
  })

  it('a stopped container is refused with its state; nothing is recorded', async () => {
    const s = scene()
    s.write({'p/index.html': 'x'})
    await s.engine.stop(s.web.id)
    const refused = 'container platform-web-1 of web is exited: a patch needs a running container'
    await expect(s.apply(['p/index.html'], '/www/index.html')).rejects.toThrow(refused)
    expect(s.ledger()).toEqual([])
  })
})

describe('rolling back and re-applying', () => {
  it('rollback SERVICE puts back latest first, so a file two patches changed ends as the original', async () => {
    const s = scene()
    s.write({'a/index.html': 'A\n', 'b/index.html': 'B\n', 'c/new.html': 'C\n'})
    await s.apply(['a/index.html'], '/www/index.html')
    await s.apply(['b/index.html'], '/www/index.html')
    await s.apply(['c/new.html'], '/www/new.html')
    const [idA, idB, idC] = s.ledger().map((p) => p.id)
    s.engine.calls.length = 0
    const r = await rollbackPatch(s.deps, 'web')
    expect(r).toMatchObject({outcome: 'reverted', reverted: [idA, idB, idC]})
    expect(s.steps.filter((t) => t.startsWith('Put back'))).toEqual([idC, idB, idA].map((id) => `Put back the files ${id} replaced`))
    expect(s.engine.text(s.web.id, '/www/index.html')).toBe('v1\n')
    expect(s.engine.text(s.web.id, '/www/new.html')).toBeUndefined()
    expect(s.ledger().map((p) => p.outcome)).toEqual(['reverted', 'reverted', 'reverted'])
  })

  it('rollback ID also undoes the later patches of the same files, and only those', async () => {
    const s = scene()
    s.write({'a/index.html': 'A\n', 'b/index.html': 'B\n', 'c/new.html': 'C\n'})
    await s.apply(['a/index.html'], '/www/index.html')
    await s.apply(['b/index.html'], '/www/index.html')
    await s.apply(['c/new.html'], '/www/new.html')
    const [idA, idB] = s.ledger().map((p) => p.id)
    expect((await rollbackPatch(s.deps, idA!)).reverted).toEqual([idA, idB])
    expect(s.engine.text(s.web.id, '/www/index.html')).toBe('v1\n')
    expect(s.engine.text(s.web.id, '/www/new.html')).toBe('C\n')
    await expect(rollbackPatch(s.deps, idA!)).rejects.toThrow(`patch ${idA} is reverted: there is nothing of it to undo`)
    await expect(rollbackPatch(s.deps, 'nothing')).rejects.toMatchObject({code: 'NOT_FOUND'})
  })

  it('rollback reads the files back too: a container that rewrites them at start fails it, naming the file', async () => {
    let n = 0
    const s = scene((files) => void set(files, '/www/index.html', `start ${++n}\n`))
    s.write({'p/index.html': 'patched\n'})
    expect((await s.apply(['p/index.html'], '/www/index.html', {restart: false})).outcome).toBe('applied')
    const r = await rollbackPatch(s.deps, 'web')
    expect(r.outcome).toBe('failed')
    expect(r.reason).toMatch(/^\/www\/index\.html was rewritten when the container started/)
  })

  it('reapply puts active patches on the recreated container and supersedes them; one its start overwrites is not applied', async () => {
    const s = scene()
    s.write({'p/page.html': 'page\n', 'q/index.html': 'patched\n'})
    await s.apply(['p/page.html'], '/www/page.html')
    const [original] = s.ledger()
    await s.engine.remove(s.web.id)
    const recreated = {project: 'platform', service: 'web', healthcheck: healthy, files: {'/www/health.txt': 'ok\n'}}
    const fresh = s.engine.add({name: 'platform-web-2', ...recreated})
    const r = await reapplyPatches(s.deps, 'web')
    expect(r).toMatchObject({outcome: 'applied', container: 'platform-web-2', patches: [original!.id]})
    expect(s.engine.text(fresh.id, '/www/page.html')).toBe('page\n')
    expect(s.ledger().map((p) => p.outcome)).toEqual(['superseded', 'applied'])

    await s.apply(['q/index.html'], '/www/index.html')
    await s.engine.remove(fresh.id)
    s.engine.add({name: 'platform-web-3', ...recreated, command: REWRITES})
    const again = await reapplyPatches(s.deps, 'web')
    expect(again.outcome).toBe('overwritten')
    expect(again.reason).toMatch(/^\/www\/index\.html was rewritten/)
    // Not carried over: the originals stay active, for doctor to report.
    expect(s.ledger().map((p) => p.outcome)).toEqual(['superseded', 'applied', 'applied', 'overwritten'])
  })
})
