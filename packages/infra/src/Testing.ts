/**
 * Test support shared by every package's tests: a database of its own per test file (created on the
 * machine's PostgreSQL, dropped when the scope closes) and the machine's Redis (an image job stream's keys
 * removed after a test).
 * `TEST_DATABASE_ADMIN_URL` / `TEST_REDIS_URL` point elsewhere when needed.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { PgMigrator } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import pg from "pg"
import type { DatabaseConnection, RedisConnection } from "./Config.js"
import * as Database from "./Database.js"
import { keys } from "./ImageJobs.js"
import { migrations, MIGRATIONS_TABLE } from "./Migrations.js"
import { Redis } from "./Redis.js"

const ADMIN_URL = process.env["TEST_DATABASE_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"
export const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379"

export const randomName = (prefix: string) => `${prefix}${randomBytes(6).toString("hex")}`

export const redisConnection: RedisConnection = { _tag: "Url", url: Redacted.make(REDIS_URL) }

/** A plain pg client on `url` for the length of `f` (fixtures, assertions, a database's creation). */
export const withPgClient = async <A>(url: string, f: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

const admin = <A>(f: (client: pg.Client) => Promise<A>) => withPgClient(ADMIN_URL, f)

export const databaseUrl = (name: string) => {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * Drops a test's database, first waiting (up to 2 s) for its connections to go. `pg`'s `pool.end()` resolves
 * before its connections have closed; one still closing when `WITH (FORCE)` terminates it gets the server's
 * 57P01 on an idle client, which a pool without an `error` listener throws as an uncaught exception in the
 * test's process — a test that passed then fails the run. Whatever is still connected after the wait (a leak)
 * is terminated.
 */
const dropDatabase = async (client: pg.Client, name: string) => {
  for (let waited = 0; waited < 2000; waited += 20) {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name]
    )
    if (rows[0]!.n === 0) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

/** A database of its own, dropped (even with open connections) when the scope closes. */
export const freshDatabase = Effect.acquireRelease(
  Effect.promise(() =>
    admin(async (client) => {
      const name = randomName("shum_test_")
      await client.query(`CREATE DATABASE ${name}`)
      return name
    })
  ),
  (name) => Effect.promise(() => admin((client) => dropDatabase(client, name)))
).pipe(
  Effect.map((name): DatabaseConnection & { readonly name: string } => ({
    _tag: "Url",
    url: Redacted.make(databaseUrl(name)),
    name
  }))
)

/** A plain pg client on a database, for fixtures and assertions independent of the code under test. */
export const withClient = <A>(name: string, f: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: databaseUrl(name) })
    await client.connect()
    try {
      return await f(client)
    } finally {
      await client.end()
    }
  })

/**
 * Applies only the migrations named (in order), as a database made by an older version of the service has
 * them; the server or `runMigrations` applies the rest later.
 */
export const migrateOnly = (
  connection: DatabaseConnection,
  ids: ReadonlyArray<keyof typeof migrations>
): Effect.Effect<void> =>
  PgMigrator.run({
    loader: PgMigrator.fromRecord(Object.fromEntries(ids.map((id) => [id, migrations[id]]))),
    table: MIGRATIONS_TABLE
  }).pipe(
    Effect.provide(NodeContext.layer),
    Effect.provide(Database.client(connection, { poolSize: 1 })),
    Effect.scoped,
    Effect.orDie,
    Effect.asVoid
  )

/**
 * The `[id, name]` pairs the migrator reports for every migration from `first` on: what an upgrade from a
 * database at `first - 1` applies. Derived from the migrations list, so adding a migration changes no test.
 */
export const migrationsFrom = (first: number): Array<[number, string]> =>
  Object.keys(migrations)
    .map((key): [number, string] => [Number(key.slice(0, 4)), key.slice(5)])
    .filter(([id]) => id >= first)
    .sort(([a], [b]) => a - b)

/** Deletes a test's image job stream (`keys(prefix)`: the stream, its dead letters, its delayed retries) and `more` keys. */
export const deleteImageStream = (prefix: string, ...more: ReadonlyArray<string>) =>
  Effect.flatMap(Redis, (redis) => {
    const k = keys(prefix)
    return redis.use((c) => c.del(k.stream, k.dead, k.delayed, ...more))
  })

/** What the fake OTLP collector (`otlpCollector`) received: each POST's path (`/v1/logs`, `/v1/traces`, …) and body. */
export interface CollectorReceived {
  readonly path: string
  readonly body: string
}

/**
 * A fake OTLP collector on a spare loopback port, closed with the scope: it answers every POST `200 {}` and
 * records it in `received`, in order; point `OTEL_EXPORTER_OTLP_ENDPOINT` (or `Telemetry.layer`) at `url`.
 */
export const otlpCollector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<CollectorReceived>; readonly close: () => void }>(
    (resume) => {
      const received: Array<CollectorReceived> = []
      const server = createServer((request, response) => {
        let body = ""
        request.on("data", (chunk) => (body += chunk))
        request.on("end", () => {
          received.push({ path: request.url ?? "", body })
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number }
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() }))
      })
    }
  ),
  (c) => Effect.sync(() => c.close())
)
