import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@shum/source"] },
  ssr: { resolve: { conditions: ["@shum/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "deploy/test/**/*.test.ts"],
    reporters: ["default", "./vitest.summary.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    sequence: { concurrent: false }
  }
})
