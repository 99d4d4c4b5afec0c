/**
 * The OpenAPI document passes `@redocly/cli lint` with the recommended rules, every warning an error
 * (redocly.yaml at the repository's root; `npm run openapi:lint` runs the same). A control shows the
 * configuration catches what it is for.
 */
import { OpenApi } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { ShumApi } from "../src/Api.js"

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)))
const CLI = createRequire(import.meta.url).resolve("@redocly/cli/bin/cli.js")

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** Lints a document with the repository's redocly.yaml; the problems as `rule: message` lines. */
const lint = (document: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "shum-openapi-"))
  try {
    const file = join(dir, "openapi.json")
    writeFileSync(file, JSON.stringify(document, null, 2))
    const result = spawnSync(
      process.execPath,
      [CLI, "lint", "--config", join(ROOT, "redocly.yaml"), "--format", "json", file],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_NOTIFICATIONS: "true", NO_COLOR: "1" },
        timeout: 60_000
      }
    )
    const start = result.stdout.indexOf("{")
    assert.isAtLeast(start, 0, `no JSON from redocly:\n${result.stdout}\n${result.stderr}`)
    const report = JSON.parse(result.stdout.slice(start)) as {
      problems: Array<{ ruleId: string; message: string; location: Array<{ pointer?: string }> }>
    }
    const problems = report.problems.map((p) => `${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ""})`)
    return { status: result.status, problems }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("OpenAPI lint (@redocly/cli, recommended-strict)", () => {
  it("the document lints clean", () => {
    const { status, problems } = lint(OpenApi.fromApi(ShumApi))
    assert.deepStrictEqual(problems, [])
    assert.strictEqual(status, 0)
  })

  it("the configuration catches what it is for (control)", () => {
    const broken = structuredClone(OpenApi.fromApi(ShumApi)) as Json
    delete broken["servers"]
    delete broken["tags"][0]["description"]
    delete broken["paths"]["/hotels"]["get"]["operationId"]
    delete broken["paths"]["/hotels"]["get"]["summary"]
    broken["components"]["schemas"]["Orphan"] = { type: "string" }
    // a 4XX-less operation that is not a probe, and a media example that does not match its schema
    for (const status of ["422", "429"]) delete broken["paths"]["/countries"]["get"]["responses"][status]
    broken["paths"]["/hotels"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["Hotel"]["value"] =
      [{ id: "one" }]
    const { status, problems } = lint(broken)
    assert.notStrictEqual(status, 0)
    const rules = new Set(problems.map((p) => p.slice(0, p.indexOf(":"))))
    for (const rule of [
      "no-empty-servers",
      "tag-description",
      "operation-operationId",
      "operation-summary",
      "no-unused-components",
      "rule/operation-4xx-response-except-probes",
      "no-invalid-media-type-examples"
    ]) {
      assert.isTrue(rules.has(rule), `${rule} not reported: ${problems.join("\n")}`)
    }
  })
})
