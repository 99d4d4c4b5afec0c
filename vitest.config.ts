import { defineConfig } from "vitest/config"
import { base, toolTests } from "./vitest.shared.js"

/**
 * `npm test`: everything that needs only Node, PostgreSQL and Redis. Files run three at a time: most of a
 * test's time is spent waiting for PostgreSQL, Redis, bcrypt (libuv's pool) or a child process, so on two
 * cores three forks finish the suite far sooner than one (each file has its own database and Redis prefix).
 * The tests that need Debian tools are `npm run test:deploy` (vitest.deploy.config.ts). A test gets 60 s: the
 * concurrency tests (50 users signed up with bcrypt, then their requests at once) take a few seconds on a quiet
 * machine and ran past 30 s at a load average of 28 — what they prove is the outcome, not the time.
 */
export default defineConfig({
  ...base,
  test: {
    include: ["packages/*/test/**/*.test.ts", "deploy/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", ...toolTests],
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { minForks: 1, maxForks: 3 } },
    sequence: { concurrent: false }
  }
})
