/**
 * The Dockerfile linted with dockerfile-utils (the Docker language server's validator: instructions,
 * flags, arguments), plus what it must do for this app, and a check that every file it COPYs from the
 * build context exists and is not excluded by .dockerignore. (The image itself is built and run by
 * deploy/scripts/buildah-check.sh here, and by the `image` job of .github/workflows/ci.yml.)
 */
import { type Copy, DockerfileParser } from "dockerfile-ast"
import { validate } from "dockerfile-utils"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"
import { readRepoFile, repoPath, ROOT } from "./support.js"

const dockerfile = () => readRepoFile("Dockerfile")
const instructions = () => DockerfileParser.parse(dockerfile()).getInstructions()

/** .dockerignore as Docker reads it: path globs (`*`, `?`, `**`), later lines win, `!` re-includes. */
const dockerignore = () => {
  const rules = readRepoFile(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!")
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "")
      const source = pattern
        .split("/")
        .map((part) =>
          part === "**"
            ? "(?:.*)"
            : part
                .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                .replace(/\*/g, "[^/]*")
                .replace(/\?/g, "[^/]")
        )
        .join("/")
        .replace(/\(\?:\.\*\)\//g, "(?:.*/)?")
      return { negate, regex: new RegExp(`^${source}(?:/.*)?$`) }
    })
  return (path: string) => rules.reduce((ignored, rule) => (rule.regex.test(path) ? !rule.negate : ignored), false)
}

const filesUnder = (path: string): Array<string> => {
  const full = repoPath(path)
  if (!statSync(full).isDirectory()) return [path]
  return readdirSync(full).flatMap((entry) => filesUnder(relative(ROOT, join(full, entry))))
}

describe("Dockerfile", () => {
  it("passes dockerfile-utils' validation", () => {
    const problems = validate(dockerfile())
    expect(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`)).toEqual([])
  })

  it("the linter catches what it is for (control)", () => {
    expect(validate("FROM node:20\nRUNN echo\nCOPY --chownn=1 a b\nHEALTHCHECK --intervall=1s CMD true\n").length).toBe(
      3
    )
  })

  it("is multi-stage: deps → build → runtime on Node 20, with server, worker and migrate targets", () => {
    const stages = instructions()
      .filter((i) => i.getKeyword() === "FROM")
      .map((i) => i.getArgumentsContent())
    expect(stages).toEqual([
      "${NODE_IMAGE} AS deps",
      "deps AS build",
      "${NODE_IMAGE} AS runtime",
      "runtime AS migrate",
      "runtime AS worker",
      "runtime AS server" // last: the default target
    ])
    expect(dockerfile()).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m)
  })

  it("the runtime stage installs production dependencies only, checks sharp, runs as uid 1000 on port 8000", () => {
    const runtime = dockerfile()
      .split(/^FROM /m)
      .find((stage) => stage.startsWith("${NODE_IMAGE} AS runtime"))!
    expect(runtime).toContain("npm ci --omit=dev")
    expect(runtime).toMatch(/import\('sharp'\)/)
    expect(runtime).toMatch(/^USER 1000:1000$/m)
    expect(runtime).toMatch(/^EXPOSE 8000$/m)
    expect(runtime).toMatch(/^HEALTHCHECK .*\n\s+CMD .*\/health/m)
    expect(runtime).toMatch(/^ENV [^]*IMAGE_DIR=\/app\/static\/images/m)
    expect(runtime).toContain("chown 1000:1000 /app/static/images") // the one writable directory
  })

  it("each target runs the command package.json names", () => {
    const scripts = (JSON.parse(readRepoFile("package.json")) as { scripts: Record<string, string> }).scripts
    const stage = (name: string) =>
      dockerfile()
        .split(/^FROM /m)
        .find((s) => s.startsWith(name))!
    const cmdOf = (name: string) => {
      const text = stage(name)
      const cmd = /^CMD (\[.*\])$/m.exec(text)
      return cmd ? (JSON.parse(cmd[1]!) as Array<string>).join(" ") : undefined
    }
    expect(cmdOf("${NODE_IMAGE} AS runtime")).toBe(scripts["start:prod"])
    expect(cmdOf("runtime AS migrate")).toBe(scripts["migrate:prod"])
    expect(cmdOf("runtime AS worker")).toBe("node packages/worker/dist/main.js")
    // the worker's probe server is on WORKER_PORT (8001), and its health check asks there
    const worker = stage("runtime AS worker")
    expect(worker).toMatch(/^EXPOSE 8001$/m)
    expect(worker).toMatch(/^HEALTHCHECK .*\n\s+CMD .*process\.env\.WORKER_PORT \|\| 8001\}\/live/m)
    expect(cmdOf("runtime AS server")).toBeUndefined() // inherits the runtime's: the server
  })

  it("everything it copies from the context exists and is not excluded by .dockerignore", () => {
    const ignored = dockerignore()
    const copies = instructions().filter(
      (i) => i.getKeyword() === "COPY" && !(i as Copy).getFlags().some((f) => f.getName() === "from")
    )
    expect(copies.length).toBeGreaterThan(5)
    for (const copy of copies) {
      const args = copy.getArguments().map((a) => a.getValue())
      for (const source of args.slice(0, -1)) {
        expect(existsSync(repoPath(source)), source).toBe(true)
        const files = filesUnder(source).filter((f) => !ignored(f))
        expect(files.length, `${source} is excluded by .dockerignore`).toBeGreaterThan(0)
      }
    }
    // what the build needs is in the context, what it must not see is not
    for (const needed of ["package.json", "package-lock.json", "tsconfig.build.json", "packages/server/src/main.ts"]) {
      expect(ignored(needed), needed).toBe(false)
    }
    for (const excluded of [
      "node_modules/effect/package.json",
      "packages/server/test/support.ts",
      "packages/server/dist/main.js",
      ".local.env",
      ".prod.env",
      ".prod.env.template",
      "deploy/k3s/base/server.yaml",
      ".git/HEAD",
      ".data/postgres/PG_VERSION",
      "docker-compose.local.yml",
      "ARCHITECTURE.md"
    ]) {
      expect(ignored(excluded), excluded).toBe(true)
    }
    expect(ignored("README.md")).toBe(false)
  })
})
