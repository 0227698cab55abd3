import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {acquireLock, isPlatformError} from '../../src/core/index.js'

const lockPath = () => join(mkdtempSync(join(tmpdir(), 'platform-lock-')), 'data.lock')

describe('acquireLock', () => {
  it('holds the PID, refuses a second holder naming it, and releases', () => {
    const path = lockPath()
    const release = acquireLock(path, 'the database x')
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid))
    let err: unknown
    try {
      acquireLock(path, 'the database x')
    } catch (e) {
      err = e
    }
    expect(isPlatformError(err, 'DATABASE_LOCKED')).toBe(true)
    expect((err as Error).message).toBe(`the database x is in use by process ${process.pid} (this process)`)
    release()
    expect(existsSync(path)).toBe(false)
    acquireLock(path, 'the database x')()
  })

  it('takes over a lock whose process is gone', () => {
    const path = lockPath()
    // A PID that certainly ended: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout
    writeFileSync(path, `${dead}\n`)
    const release = acquireLock(path, 'container c', 'LOCKED')
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid))
    release()
  })
})
