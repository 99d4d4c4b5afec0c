/**
 * What the in-process benchmarks (`bench/bookings.ts`, `bench/holds.ts`) share: their knobs, the server with
 * its services over a database of their own (`inProcessServer`), the users they book as (`seedUsers`), and
 * how they read dates and latencies.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "@shum/infra/Config"
import * as Database from "@shum/infra/Database"
import { freshDatabase } from "@shum/infra/Testing"
import { Tokens } from "@shum/server/Auth/Tokens"
import { HttpLive } from "@shum/server/HttpLive"
import { InProcessServicesLive, ServicesLive } from "@shum/server/Services"
import { ConfigProvider, DateTime, Effect, Layer, Logger, LogLevel } from "effect"

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
