/**
 * `runDirect` (`src/DirectStatements.ts`), the hottest writes' path to the pool, against the real PostgreSQL:
 * what `@effect/sql` would give for the same statement — the rows with the pool's types, named prepared
 * statements, the `db_*` observer, the same `SqlError`s with the driver's error as cause — and an
 * interrupted statement cancelled with its connection given back.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { createServer } from "node:net"
import pg from "pg"
import * as Database from "../src/Database.js"
import { PgPool, runDirect } from "../src/DirectStatements.js"
import { classifySqlError } from "../src/SqlFailures.js"
import { freshDatabase } from "./utils.js"

const observed: Array<string> = []

const TestDatabase = Layer.unwrapScoped(
  Effect.map(freshDatabase, (connection) => Database.layer(connection, { poolSize: 2 }))
).pipe(Layer.provide(Layer.succeed(Database.QueryObserver, { observe: (text: string) => void observed.push(text) })))

const SAME = `SELECT $1::date AS date_from, ARRAY[$1::date, NULL] AS nights, $2::int8 AS id, $3::text AS note`

layer(TestDatabase, { excludeTestServices: true })("runDirect", (it) => {
  it.effect("the rows of @effect/sql for the same statement, named once per connection, observed", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const pool = yield* PgPool
      const values = ["2030-01-02", 42, "пример"] as const
      const direct = yield* runDirect(pool, SAME, values)
      const through = yield* sql.unsafe(SAME, [...values])
      assert.deepStrictEqual(direct, through)
      assert.deepStrictEqual(direct, [
        { date_from: "2030-01-02", nights: ["2030-01-02", null], id: 42, note: "пример" }
      ])
      assert.isTrue(observed.includes(SAME))
      // prepared by name: PostgreSQL keeps it in the connection's pg_prepared_statements
      const named = yield* Effect.all(
        Array.from({ length: 4 }, () =>
          runDirect<{ n: number }>(
            pool,
            `SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1 AND $2::int = 1`,
            [SAME, 1]
          )
        )
      )
      assert.isTrue(named.some((rows) => rows[0]!.n === 1))
    })
  )

  it.effect("a refused statement: SqlError 'Failed to execute statement' with the driver's error (its SQLSTATE)", () =>
    Effect.gen(function* () {
      const pool = yield* PgPool
      const error = yield* Effect.flip(runDirect(pool, `SELECT $1::int + 2147483647 AS n`, [1]))
      assert.strictEqual(error._tag, "SqlError")
      assert.strictEqual(error.message, "Failed to execute statement")
      assert.strictEqual((error.cause as { code?: string }).code, "22003")
      assert.strictEqual(classifySqlError(error), "OutOfRange")
      // the connection is given back: both of the pool's connections still serve
      const rows = yield* Effect.all(
        [runDirect(pool, `SELECT $1::int AS n`, [1]), runDirect(pool, `SELECT $1::int AS n`, [2])],
        { concurrency: 2 }
      )
      assert.deepStrictEqual(rows, [[{ n: 1 }], [{ n: 2 }]])
    })
  )

  it.effect("interrupted: the statement is cancelled in PostgreSQL and its connection given back", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const pool = yield* PgPool
      const marker = `direct-sleep-${Date.now()}`
      const running = yield* Effect.fork(runDirect(pool, `SELECT pg_sleep(30), $1::text`, [marker]))
      const active = () =>
        sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30)%' AND pid <> pg_backend_pid()`.pipe(
          Effect.map((rows) => rows[0]!.n)
        )
      while ((yield* active()) === 0) yield* Effect.sleep("20 millis")
      const started = Date.now()
      yield* Fiber.interrupt(running)
      assert.isBelow(Date.now() - started, 5000)
      while ((yield* active()) > 0) yield* Effect.sleep("20 millis")
      assert.strictEqual(pool.totalCount - pool.idleCount, 0, "no connection left checked out")
    })
  )
})

describe("runDirect without a database", () => {
  it.live("no connection: SqlError 'Failed to acquire connection', typed, not a defect", () =>
    Effect.gen(function* () {
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((done) => {
            const server = createServer().listen(0, "127.0.0.1", () => {
              const { port } = server.address() as { port: number }
              server.close(() => done(port))
            })
          })
      )
      const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 2000 })
      const error = yield* Effect.flip(runDirect(pool, `SELECT $1::int`, [1]))
      yield* Effect.promise(() => pool.end())
      assert.strictEqual(error._tag, "SqlError")
      assert.strictEqual(error.message, "Failed to acquire connection")
      assert.strictEqual(classifySqlError(error), "Unavailable")
    })
  )
})
