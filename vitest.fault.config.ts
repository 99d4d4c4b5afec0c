import { defineConfig } from "vitest/config"

/**
 * The fault suite (`npm run test:fault`): real processes (servers, workers, nginx, Redis, the embedded
 * PostgreSQL) broken on purpose: signals, kills, restarts. Each file runs in its own fork, one at a time,
 * with time for processes to start and stop; `.ci/run` runs it after `npm test`.
 */
export default defineConfig({
  resolve: { conditions: ["@shum/source"] },
  ssr: { resolve: { conditions: ["@shum/source"] } },
  test: {
    include: ["packages/*/test/**/*.fault.ts", "deploy/test/**/*.fault.ts"],
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
    sequence: { concurrent: false },
    passWithNoTests: true
  }
})
