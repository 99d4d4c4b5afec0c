/**
 * What the in-process benchmarks (`bench/bookings.ts`, `bench/holds.ts`, `bench/holdsCost.ts`,
 * `bench/webhooks.ts`) share: their knobs, the server with its services over a database of their own
 * (`inProcessServer`), the hotel, hot rooms and users they book with (`seedHotel`, `hotRoom`, `seedUsers`), the
 * server's address and the load's child process (`serverBase`, `runClient`), and how they read dates and latencies.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "@shum/infra/Config"
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { Tokens } from "@shum/server/Auth/Tokens"
import { HttpLive } from "@shum/server/HttpLive"
import { InProcessServicesLive, ServicesLive } from "@shum/server/Services"
import { ConfigProvider, DateTime, Effect, Layer, Logger, LogLevel } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"

/** A number from the environment (`BENCH_…`), or `fallback`. */
export const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

/** The date `n` days from today (UTC). */
export const day = (n: number) => DateTime.formatIsoDateUtc(DateTime.add(DateTime.unsafeNow(), { days: n }))

/** The `p`th percentile of ascending `sorted` (0 when empty). */
export const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/**
 * The server and its services in this process (the test HTTP server, errors only in the log) over a fresh
 * database with `poolSize` connections, dropped at the end; `extra` is given the database too.
 */
export const inProcessServer = <A = never>(
  poolSize: number,
  extra: Layer.Layer<A, never, SqlClient.SqlClient> = Layer.empty as Layer.Layer<A>
) =>
  Layer.unwrapScoped(
    Effect.map(freshDatabase, (connection) =>
      HttpLive.pipe(
        Layer.provideMerge(ServicesLive),
        Layer.provideMerge(extra),
        Layer.provide(InProcessServicesLive),
        Layer.provideMerge(Database.layer(connection, { poolSize })),
        Layer.provideMerge(NodeHttpServer.layerTest),
        Layer.provideMerge(AppConfig.Default),
        Layer.provide(Logger.minimumLogLevel(LogLevel.Error)),
        Layer.provide(
          Layer.setConfigProvider(
            ConfigProvider.fromMap(
              new Map([
                ["APP_ENV", "test"],
                ["JWT_SECRET_KEY", "bench-secret-key-bench-secret-key-bench"],
                ["DATABASE_URL", "postgres://unused"]
              ])
            )
          )
        )
      )
    )
  )

/** Russia and Moscow (country 1, city 1), where the benchmarks' hotels stand. */
export const seedCity = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`INSERT INTO countries (name, iso_code) VALUES ('Россия', 'RU')`
  yield* sql`INSERT INTO cities (name, country_id) VALUES ('Москва', 1)`
})

/** `count` users (`bench<i>@example.com`) and an access token for each. */
export const seedUsers = (count: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tokens = yield* Tokens
    const users = yield* sql<{ id: number; email: string }>`
      INSERT INTO users (email) SELECT 'bench' || i || '@example.com' FROM generate_series(1, ${count}) AS i
      RETURNING id, email`
    const userTokens = yield* Effect.forEach(users, (user) => Effect.map(tokens.issueAccess(user), (t) => t.token))
    return { users, tokens: userTokens }
  })

/** Russia, Moscow and one hotel there (hotel 1), whose hot rooms `hotRoom` adds. */
export const seedHotel = Effect.zipRight(
  seedCity,
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`INSERT INTO hotels (title, city_id, address) VALUES ('Отель', 1, 'ул. Тестовая, 1')`
  )
)

/** A room type of hotel 1 with `quantity` units at 3,000 a night: its id. */
export const hotRoom = (title: string, quantity: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: number }>`
      INSERT INTO rooms (hotel_id, title, price, quantity) VALUES (1, ${title}, 3000, ${quantity}) RETURNING id`.pipe(
      Effect.map((rows) => rows[0]!.id)
    )
  )

/** The in-process server's address as a base URL (`http://127.0.0.1:<port>`). */
export const serverBase = Effect.gen(function* () {
  const address = (yield* HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("the server listens on no TCP port")
  const host = address.hostname === "::" || address.hostname === "0.0.0.0" ? "127.0.0.1" : address.hostname
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`
})

/**
 * The load of a benchmark from a child process, so it does not share the server's event loop: `file` (next to
 * this one, run under `tsx`) is given `input` as one JSON text on stdin and answers one on stdout, parsed as
 * `Output`; killed if interrupted.
 */
export const runClient = <Output>(file: string, input: unknown): Effect.Effect<Output, Error> =>
  Effect.async<Output, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, file)], {
      cwd: join(import.meta.dirname, ".."),
      stdio: ["pipe", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
    child.on("error", (error) => resume(Effect.fail(error)))
    child.on("exit", (code) =>
      resume(
        code === 0
          ? Effect.try({ try: () => JSON.parse(out) as Output, catch: (e) => new Error(String(e)) })
          : Effect.fail(new Error(`the client exited with ${code}`))
      )
    )
    child.stdin.end(JSON.stringify(input))
    return Effect.sync(() => child.kill())
  })
