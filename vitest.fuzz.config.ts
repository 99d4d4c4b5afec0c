import { defineConfig } from "vitest/config"

/**
 * The fuzz suite (`npm run test:fuzz`): the `.fuzz.ts` files under each package's test folder, hostile requests
 * generated from the OpenAPI document against the real server process, PostgreSQL and Redis. Seeded and
 * bounded (`FUZZ_SEED`, `FUZZ_RUNS`); one file at a time, its operations in order; `.ci/run` runs it after
 * `npm test`.
 */
export default defineConfig({
  resolve: { conditions: ["@shum/source"] },
  ssr: { resolve: { conditions: ["@shum/source"] } },
  test: {
    include: ["packages/*/test/**/*.fuzz.ts"],
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 600_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
    sequence: { concurrent: false }
  }
})
