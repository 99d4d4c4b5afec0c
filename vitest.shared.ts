/**
 * What every Vitest configuration of the repository shares: sources resolved from `src/` (the
 * `@shum/source` condition), the plain closing line, forks.
 */
export const base = {
  resolve: { conditions: ["@shum/source"] },
  ssr: { resolve: { conditions: ["@shum/source"] } }
}

/** Tests that need Debian tools (nginx, shellcheck, promtool, kubectl, chromium): `npm run test:deploy`. */
export const toolTests = [
  "deploy/test/k3s.test.ts",
  "deploy/test/monitoring.test.ts",
  "deploy/test/nginx.test.ts",
  "deploy/test/workflows.test.ts",
  "packages/server/test/DocsBrowser.test.ts"
]
