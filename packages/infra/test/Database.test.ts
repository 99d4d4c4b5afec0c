import { assert, describe, it, layer } from "@effect/vitest"
import { createServer } from "node:net"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import pg from "pg"
import type { DatabaseConnection } from "../src/Config.js"
import * as Database from "../src/Database.js"
import { migrations } from "../src/Migrations.js"
import { freshDatabase } from "./utils.js"

const closedPort = Effect.promise(
  () =>
    new Promise<number>((done) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        server.close(() => done(port))
      })
    })
)

const TestDatabase = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 4 }))
)

layer(TestDatabase, { excludeTestServices: true })("Database", (it) => {
  it.effect("migrates while the layer is built", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT count(*) AS n FROM shum_migrations`
      assert.deepStrictEqual(rows, [{ n: Object.keys(migrations).length }])
    })
  )

  it.effect("the pool serves concurrent queries on several connections", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const started = Date.now()
      const rows = yield* Effect.all(
        Array.from(
          { length: 8 },
          () =>
            sql<{ pid: number; app: string }>`
            SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app, pg_sleep(0.3)`
        ),
        { concurrency: "unbounded" }
      )
      const pids = new Set(rows.map(([row]) => row!.pid))
      assert.strictEqual(pids.size, 4)
      assert.isTrue(rows.every(([row]) => row!.app === "shum-booking"))
      assert.isBelow(Date.now() - started, 8 * 300)
    })
  )

  it.effect("date stays YYYY-MM-DD, int8 becomes a number when exact, names stay snake_case", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql`
        SELECT '2030-01-02'::date AS date_from, ARRAY['2030-01-02'::date, NULL] AS nights,
               42::int8 AS telegram_id, 9007199254740993::int8 AS big, ARRAY[1::int8, NULL] AS ids,
               (SELECT count(*) FROM shum_migrations) AS total, now() AS created_at`
      assert.strictEqual(row!.date_from, "2030-01-02")
      assert.deepStrictEqual(row!.nights, ["2030-01-02", null])
      assert.strictEqual(row!.telegram_id, 42)
      assert.strictEqual(row!.big, "9007199254740993")
      assert.deepStrictEqual(row!.ids, [1, null])
      assert.strictEqual(row!.total, Object.keys(migrations).length)
      assert.instanceOf(row!.created_at, Date)
    })
  )

  it.effect("ping answers", () => Database.ping)
})

describe("Database without a server", () => {
  it.live("building the client fails with a typed SqlError", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const connection: DatabaseConnection = {
        _tag: "Params",
        host: "127.0.0.1",
        port,
        database: "booking",
        username: "postgres",
        password: Option.some(Redacted.make("x"))
      }
      const error = yield* Layer.build(Database.client(connection, { poolSize: 1 })).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(error._tag, "SqlError")
    })
  )

  it.live("ping fails with DatabaseUnavailable, not a defect, and in time", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const pool = Effect.acquireRelease(
        Effect.sync(() => new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 5000 })),
        (pool) => Effect.promise(() => pool.end())
      )
      const started = Date.now()
      const error = yield* Database.ping.pipe(Effect.provide(PgClient.layerFromPool({ acquire: pool })), Effect.flip)
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.isBelow(Date.now() - started, 2500)
    })
  )

  it.live("ping gives up after its timeout when the server does not answer", () =>
    Effect.gen(function* () {
      // accepts connections and never speaks
      const silent = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<ReturnType<typeof createServer>>((done) => {
              const server = createServer(() => {}).listen(0, "127.0.0.1", () => done(server))
            })
        ),
        (server) => Effect.sync(() => server.close())
      )
      const { port } = silent.address() as { port: number }
      const pool = Effect.acquireRelease(
        Effect.sync(() => new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 10_000 })),
        (pool) => Effect.sync(() => void pool.end().catch(() => undefined))
      )
      const started = Date.now()
      const error = yield* Database.pingWithin("500 millis").pipe(
        Effect.provide(PgClient.layerFromPool({ acquire: pool })),
        Effect.flip
      )
      assert.strictEqual(error._tag, "DatabaseUnavailable")
      assert.include(error.message, "did not answer")
      assert.isBelow(Date.now() - started, 2000)
    }).pipe(Effect.scoped)
  )
})
