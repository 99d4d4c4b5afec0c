/**
 * The committed client is generated from the current API: a fresh generation (in memory) must equal
 * `src/generated/schema.ts` byte for byte. When it fails: `npm run client:generate` and commit the result.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { generateSchema, SCHEMA_FILE, servedDocument } from "../scripts/generate.js"

describe("@shum/client", () => {
  it("is not stale: generating it again from the OpenAPI document changes nothing", async () => {
    const fresh = await generateSchema()
    const committed = readFileSync(SCHEMA_FILE, "utf8")
    expect(committed === fresh, "src/generated/schema.ts is stale: run `npm run client:generate`").toBe(true)
  })

  it("a change of the API would show (control)", async () => {
    const changed = structuredClone(servedDocument())
    const hotel = (changed.components!.schemas!["Hotel"] as { properties: Record<string, unknown> }).properties
    hotel["stars"] = { type: "integer" }
    expect(await generateSchema(changed)).not.toBe(readFileSync(SCHEMA_FILE, "utf8"))
  })

  it("types every operation of the document by its path", () => {
    const text = readFileSync(SCHEMA_FILE, "utf8")
    for (const [path, item] of Object.entries(servedDocument().paths ?? {})) {
      expect(text).toContain(`"${path}": {`)
      for (const operation of Object.values(item as Record<string, { operationId?: string }>)) {
        if (operation.operationId !== undefined) expect(text).toContain(`${operation.operationId}: {`)
      }
    }
  })
})
