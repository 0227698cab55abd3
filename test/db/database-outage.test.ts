import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {migrationsDir} from '../../src/core/index.js'
import {migrate, openDb, type Db} from '../../src/db/index.js'
import {API_KEY, gatewayFor, listenL01, type L01Handle} from '../support/platform.js'
import {findPgBin, startCluster, type Cluster} from '../support/postgres.js'

/** Its own cluster: this test stops PostgreSQL under a running L01. */
describe.skipIf(!findPgBin() && process.env.CI !== 'true')('PostgreSQL stopped under L01', () => {
  let cluster: Cluster
  let db: Db
  let l01: L01Handle

  beforeAll(async () => {
    cluster = await startCluster()
    db = await openDb({databaseUrl: cluster.url})
    await migrate(db, {dir: migrationsDir()})
    l01 = await listenL01(db)
  })
  afterAll(async () => {
    await l01?.app.close()
    await db?.close()
    cluster?.destroy()
  })

  it('answers 503 DATABASE_UNAVAILABLE (through L09 too), recovers by itself, and loses no acknowledged write', async () => {
    const {app: gw, client} = gatewayFor(l01.url)
    const headers = {'x-api-key': API_KEY}
    try {
      const written: string[] = []
      for (let i = 0; i < 20; i++) {
        const r = await gw.inject({
          method: 'POST',
          url: '/api/v1/goals/',
          payload: {description: `goal ${i}`, priority: 1 + (i % 10)},
          headers,
        })
        expect(r.statusCode).toBe(201)
        written.push(r.json().goal_id)
      }

      cluster.stop()
      const direct = await l01.app.inject({url: '/health/ready'})
      expect(direct.statusCode).toBe(503)
      expect(direct.json().error).toBe('DATABASE_UNAVAILABLE')
      const write = await gw.inject({method: 'POST', url: '/api/v1/goals/', payload: {description: 'while down'}, headers})
      expect(write.statusCode).toBe(503)
      expect(write.json()).toMatchObject({error: 'DATABASE_UNAVAILABLE'})
      expect(write.body).not.toMatch(/SELECT|INSERT|\n\s+at /)
      expect((await gw.inject({url: '/health/ready'})).statusCode).toBe(503)

      cluster.start()
      let status = 0
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await l01.app.inject({url: '/health/ready'})).statusCode
        if (status !== 200) await new Promise((r) => setTimeout(r, 100))
      }
      expect(status).toBe(200)
      for (const id of written) {
        const r = await gw.inject({url: `/api/v1/goals/${id}`, headers})
        expect(r.statusCode).toBe(200)
      }
      const after = await gw.inject({method: 'POST', url: '/api/v1/goals/', payload: {description: 'after'}, headers})
      expect(after.statusCode).toBe(201)
    } finally {
      await gw.close()
      await client.close()
    }
  })
})
