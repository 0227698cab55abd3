/**
 * A lost answer, as it happens: the built L01 (`platform serve data-layer`) in a child
 * process is stopped with SIGSTOP while L09 waits on it, so L09 answers 503; the client
 * retries with the same Idempotency-Key, L01 resumes, and exactly one row exists.
 * Run `npm run build` first.
 */
import {randomUUID} from 'node:crypto'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {spawnCli, waitForOk} from '../support/cli.js'
import {createPgDatabase, pgUrl} from '../support/dbs.js'
import {API_KEY, gatewayFor} from '../support/platform.js'
import {freePort} from '../support/postgres.js'
import {waitFor} from '../support/wait.js'

const ENGINES = [
  {kind: 'pglite', env: async () => ({PLATFORM_DB_ENGINE: 'pglite'})},
  {kind: 'pg', env: async () => ({DATABASE_URL: await createPgDatabase()})},
] as const

for (const engine of ENGINES) {
  describe.skipIf(engine.kind === 'pg' && !pgUrl())(`a create whose answer was lost, retried with its key [${engine.kind}]`, () => {
    const children: Array<ReturnType<typeof spawnCli>> = []
    afterEach(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    })

    it("L01 stopped past L09's timeout: 503s, then the replay of the one row created", async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'platform-e2e-'))
      const port = await freePort()
      const l01 = spawnCli(['serve', 'data-layer', '--port', String(port)], {cwd, env: await engine.env()})
      children.push(l01)
      await waitForOk(`http://127.0.0.1:${port}/health/ready`, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${l01.output()}`)
      })
      const internalKey = readFileSync(join(cwd, '.platform', 'internal.key'), 'utf8').trim()
      const {app: gw, client} = gatewayFor(`http://127.0.0.1:${port}`, 500, internalKey)
      try {
        const key = randomUUID()
        const plan = `plan-${randomUUID()}`
        const headers = {'x-api-key': API_KEY, 'idempotency-key': key}
        const create = () => gw.inject({method: 'POST', url: '/api/v1/tasks/', payload: {plan_id: plan, description: 'once'}, headers})
        const count = async () => {
          const r = await gw.inject({url: `/api/v1/tasks/?plan_id=${plan}&count=exact`, headers: {'x-api-key': API_KEY}})
          return (r.json() as {total: number}).total
        }
        expect(await count()).toBe(0)

        l01.kill('SIGSTOP')
        const first = await create()
        expect(first.statusCode, first.body).toBe(503)
        expect(first.json().error).toBe('UPSTREAM_UNAVAILABLE')
        const second = await create() // the client cannot know whether the first happened: it sends it again
        expect(second.statusCode, second.body).toBe(503)
        l01.kill('SIGCONT')

        // L01 works through what it was sent; a retry meanwhile may find the first still running (409)
        const statuses: number[] = []
        const done = await waitFor(
          'a retry to be answered with the created row',
          async () => {
            const r = await create()
            statuses.push(r.statusCode)
            return r.statusCode === 201 ? r : undefined
          },
          {every: 50, ms: 20_000},
        )
        expect(
          statuses.every((s) => s === 201 || s === 409 || s === 503),
          statuses.join(),
        ).toBe(true)
        expect(done.headers['idempotent-replay']).toBe('true')
        expect(done.json()).toMatchObject({plan_id: plan, name: 'once'})
        expect(await count()).toBe(1)
      } finally {
        l01.kill('SIGCONT')
        await gw.close()
        await client.close()
      }
    }, 120_000)
  })
}
