/** PGlite's data directory is resolved through symlinks before its lock is taken (real PGlite on disk). */
import {mkdtempSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {openDb} from '../../src/db/index.js'

it('two paths to one directory take one lock, and the error names the directory and its owner', async () => {
  const root = mkdtempSync(join(tmpdir(), 'platform-pglite-path-'))
  const real = join(root, 'data')
  const link = join(root, 'link')
  const db = await openDb({dataDir: real})
  try {
    symlinkSync(real, link)
    const second = openDb({dataDir: link})
    await expect(second).rejects.toMatchObject({
      code: 'DATABASE_LOCKED',
      message: `the database ${real} is in use by process ${process.pid} (this process)`,
    })
    expect(db.location).toBe(real)
  } finally {
    await db.close()
  }
  // Once released, the link opens the same data.
  const again = await openDb({dataDir: link})
  expect(again.location).toBe(real)
  await again.close()
}, 60_000)
