import { defineConfig } from "vitest/config"
import { base } from "./vitest.shared.js"

/**
 * `npm run test:unit`: the services' rules against in-memory repository Layers (`packages/*\/test/unit/`),
 * with no PostgreSQL, no Redis and no network — every outgoing socket throws (`test/unit/fakes/NoNetwork.ts`,
 * installed here and imported by each file, so the rule also holds when `npm test` runs these files).
 * Seconds, not minutes: the real-database tests that prove the SQL stay in `npm test`.
 */
export default defineConfig({
  ...base,
  test: {
    include: ["packages/*/test/unit/**/*.test.ts"],
    setupFiles: ["packages/server/test/unit/fakes/NoNetwork.ts"],
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 10_000,
    hookTimeout: 10_000,
    // one process for every file, its modules loaded once: loading Effect and the services is most of the time
    pool: "forks",
    isolate: false,
    poolOptions: { forks: { singleFork: true } },
    sequence: { concurrent: false }
  }
})
