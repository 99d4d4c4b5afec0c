import { defineConfig } from "vitest/config"
import { base, toolTests } from "./vitest.shared.js"

/**
 * `npm run test:deploy`: the checks that run Debian tools on the deployment artifacts (nginx, shellcheck,
 * promtool, kubectl's kustomize) and the browser test of /docs (chromium). `deploy/scripts/test-tools.sh`
 * installs the missing tools first (as root or with password-less sudo), as `.ci/run` does.
 */
export default defineConfig({
  ...base,
  test: {
    include: toolTests,
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    sequence: { concurrent: false }
  }
})
