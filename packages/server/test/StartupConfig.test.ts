/**
 * A misconfigured server stops before it touches anything: every variable is read and validated first
 * (`infra/Config.ts`), so a bad value leaves the database unmigrated, and the log line's `message` names the
 * variable and the expected form.
 */
import { assert, describe, it } from "@effect/vitest"
import { databaseUrl, randomName, withPgClient } from "@shum/infra/Testing"
import { freePort, startServerProcess } from "./FaultSupport.js"
import { TEST_SECRET } from "./support.js"

describe("start-up with a bad configuration value", () => {
  it(
    "exits 1 before migrating, with a JSON line whose message names each variable and what it expects",
    { timeout: 90_000 },
    async () => {
      const database = randomName("shum_test_")
      await withPgClient(databaseUrl("postgres"), (c) => c.query(`CREATE DATABASE ${database}`))
      try {
        const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
          ["PORT", "eighty", /PORT.*expected an integer between 0 and 65535/],
          [
            "IMAGE_JOB_TIMEOUT_SECONDS",
            "soon",
            /^\(Invalid data at IMAGE_JOB_TIMEOUT_SECONDS: "expected an integer of at least 1, got "soon""\)$/
          ],
          [
            "IMAGE_MAX_INPUT_PIXELS",
            "12",
            /IMAGE_MAX_INPUT_PIXELS: "expected an integer of at least 1000000, got "12""/
          ]
        ]
        for (const [name, value, expected] of cases) {
          const server = startServerProcess({
            APP_ENV: "production",
            LOG_FORMAT_JSON: "true",
            JWT_SECRET_KEY: TEST_SECRET,
            DATABASE_URL: databaseUrl(database),
            PORT: String(await freePort()),
            [name]: value
          })
          const { code } = await server.exited
          assert.strictEqual(code, 1, server.output)
          const lines = server.output
            .split("\n")
            .filter((line) => line.startsWith("{"))
            .map((line) => JSON.parse(line) as { level: string; message: string })
          const failure = lines.find((line) => line.level === "ERROR" || line.level === "CRITICAL")
          assert.isDefined(failure, server.output)
          assert.match(failure!.message, expected)
        }
        const tables = await withPgClient(databaseUrl(database), (c) =>
          c.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")
        )
        assert.strictEqual(tables.rows[0].n, 0, "nothing was migrated")
      } finally {
        await withPgClient(databaseUrl("postgres"), (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
      }
    }
  )
})
