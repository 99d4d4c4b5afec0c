/**
 * One shape for the HTTP groups (ARCHITECTURE.md, "A request's fiber …"): every group of the API is built by
 * `closedGroup` (`Http/ClosedGroup.ts`), whose handlers take their services when the group is built, so a call
 * merges a handful of entries into its context instead of the application's ~56. A group built by the platform's
 * `HttpApiBuilder.group` would still work — and quietly cost every request of its endpoints that merge — so the
 * rule is checked here, on the sources, where the compiler cannot see it.
 */
import "./fakes/NoNetwork.js"
import { assert, describe, it } from "@effect/vitest"
import { ShumApi } from "@shum/domain/Api"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const SRC = fileURLToPath(new URL("../../src", import.meta.url))

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

const files = sources(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, "utf8") }))

describe("HTTP groups (ARCHITECTURE.md)", () => {
  it("every group of ShumApi is built by closedGroup, exactly once", () => {
    const groups = Object.keys(ShumApi.groups).sort()
    assert.isAbove(groups.length, 10)
    for (const group of groups) {
      const builders = files.filter(({ text }) => text.includes(`closedGroup(ShumApi, "${group}"`))
      assert.lengthOf(
        builders,
        1,
        `group "${group}": built by closedGroup in ${builders.map(({ path }) => path).join(", ") || "no file"}`
      )
    }
  })

  it("nothing but Http/ClosedGroup.ts calls HttpApiBuilder.group", () => {
    const callers = files
      .filter(({ path, text }) => path !== join("Http", "ClosedGroup.ts") && /HttpApiBuilder\.group\s*\(/u.test(text))
      .map(({ path }) => path)
    assert.deepStrictEqual(callers, [])
  })
})
