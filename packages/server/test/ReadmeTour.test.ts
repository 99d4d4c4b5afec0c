/**
 * The README's tour, run as written: the shell block between `<!-- tour:start -->` and `<!-- tour:end -->`
 * is executed by bash against the real server (demo data seeded as in the embedded default), and what it
 * printed and did is checked. Edit the README and this test runs your edit.
 */
import { HttpServer } from "@effect/platform"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { SeedLive } from "../src/Seed.js"
import { makeTestServer, TestDatabaseName } from "./support.js"
import { withClient } from "@shum/infra/Testing"

const readme = fileURLToPath(new URL("../../../README.md", import.meta.url))

/** The tour's shell block. */
const tourScript = (markdown: string) => {
  const section = /<!-- tour:start -->\s*```sh\n([\s\S]*?)```\s*<!-- tour:end -->/.exec(markdown)
  if (section === null) throw new Error("README.md has no tour block between <!-- tour:start --> and <!-- tour:end -->")
  return section[1]!
}

/** The JSON values of a stream of them printed back to back (curl adds no newline). */
const jsonValues = (text: string): Array<unknown> => {
  const values: Array<unknown> = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      if (c === "\\") i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === "{" || c === "[") {
      if (depth++ === 0) start = i
    } else if ((c === "}" || c === "]") && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)))
  }
  return values
}

const Server = Layer.provideMerge(
  Layer.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "shum-tour-seed-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      ),
      (dir) => SeedLive({ demo: Option.some({ adminPasswordFile: join(dir, "admin") }) })
    )
  ),
  makeTestServer()
)

layer(Server, { excludeTestServices: true, timeout: "120 seconds" })("README tour", (it) => {
  it.effect("runs as written: register, sign in, search, book, read, list and cancel", () =>
    Effect.gen(function* () {
      const address = (yield* HttpServer.HttpServer).address
      assert(address._tag === "TcpAddress")
      const script = tourScript(yield* Effect.promise(() => readFile(readme, "utf8")))
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "shum-tour-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
      )
      const { stdout } = yield* Effect.promise(() =>
        promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], {
          cwd: dir,
          env: { ...process.env, BASE: `http://127.0.0.1:${address.port}` },
          timeout: 60_000
        })
      )
      // every answer the tour prints, in order: register, login, the booking, my bookings, the cancellation
      const answers = jsonValues(stdout)
      assert.strictEqual(answers.length, 5, stdout)
      const [registered, login, booking, mine, cancelled] = answers as [
        { email: string; id: number },
        { token_type: string },
        { id: number; user_id: number },
        Array<{ id: number }>,
        unknown
      ]
      assert.strictEqual(registered.email, "guest@example.com")
      assert.isNumber(registered.id)
      assert.strictEqual(login.token_type, "bearer")
      assert.strictEqual(booking.user_id, registered.id)
      assert.isTrue(mine.some((b) => b.id === booking.id))
      assert.deepStrictEqual(cancelled, { status: "OK" })
      const name = yield* TestDatabaseName
      const left = yield* withClient(name, (client) =>
        client.query("SELECT count(*)::int AS n FROM bookings WHERE id = $1 AND status = 'confirmed'", [booking.id])
      )
      assert.strictEqual(left.rows[0].n, 0, "the booking is cancelled")
    }).pipe(Effect.scoped)
  )
})
