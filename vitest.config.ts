import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {name: 'main', include: ['test/{unit,db,e2e}/**/*.test.ts'], globalSetup: ['test/support/setup-postgres.ts']},
      },
      {
        // One Docker engine and one compose project name (platform): these files run one at a time.
        extends: true,
        test: {
          name: 'docker',
          include: ['test/docker/**/*.test.ts'],
          globalSetup: ['test/support/setup-docker.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
})
