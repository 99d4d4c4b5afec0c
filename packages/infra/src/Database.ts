import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type { MigrationError } from "@effect/sql/Migrator"
import { PgClient } from "@effect/sql-pg"
import { Config, ConfigError, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import pg from "pg"
import {
  AppConfig,
  appEnv,
  database,
  type DatabaseConnection,
  databasePoolSize,
  embedded as embeddedSettings,
  type Settings
} from "./Config.js"
import { promiseWithin } from "./BoundedWait.js"
import { EmbeddedPostgres, type EmbeddedPostgresError, type EmbeddedPostgresOptions } from "./EmbeddedPostgres.js"
import { MigrationsLive } from "./Migrations.js"
import { PgPool } from "./DirectStatements.js"
import { type ObserveQuery, prepareStatements } from "./PreparedStatements.js"

const OID = { int8: 20, textArray: 1009, int8Array: 1016, date: 1082, dateArray: 1182 } as const

const int8 = (value: string | null): number | string | null => {
  const n = Number(value)
  return value === null || !Number.isSafeInteger(n) ? value : n
}
const defaultParser = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => (value: string) => unknown
const textArray = defaultParser(OID.textArray, "text") as (value: string) => Array<string | null>

/**
 * `date` stays the plain `YYYY-MM-DD` string (pg would make a local-midnight Date), and `int8` (ids,
 * `count(*)`) becomes a number when it fits exactly, else stays a string. Everything else is pg's default.
 */
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (format === "binary") return defaultParser(oid, format)
    switch (oid) {
      case OID.date:
        return (value: string) => value
      case OID.dateArray:
        return textArray
      case OID.int8:
        return int8
      case OID.int8Array:
        return (value: string) => textArray(value).map(int8)
      default:
        return defaultParser(oid, format)
    }
  }) as pg.CustomTypesConfig["getTypeParser"]
}

export interface PoolOptions {
  /** DB_POOL_SIZE */
  readonly poolSize: number
}

const CONNECT_TIMEOUT = Duration.seconds(5)

/**
 * Told of every statement the pool runs, when it ends (its text and seconds): how the server's `db_*`
 * metrics are fed, with or without tracing. None by default; read when the pool is built.
 */
export class QueryObserver extends Context.Reference<QueryObserver>()("infra/QueryObserver", {
  defaultValue: (): { readonly observe: ObserveQuery | undefined } => ({ observe: undefined })
}) {}

/**
 * `pg`'s pool as `PgClient.layer` builds it (checked with `SELECT 1` within the connect timeout, ended with
 * the scope), plus named prepared statements (`PreparedStatements.ts`).
 */
const pool = (connection: DatabaseConnection, { poolSize }: PoolOptions) =>
  Effect.acquireRelease(
    Effect.flatMap(QueryObserver, ({ observe }) =>
      Effect.tryPromise({
        try: async () => {
          const pool = new pg.Pool({
            ...(connection._tag === "Url"
              ? { connectionString: Redacted.value(connection.url) }
              : {
                  host: connection.host,
                  port: connection.port,
                  database: connection.database,
                  user: connection.username,
                  password: Option.match(connection.password, { onNone: () => undefined, onSome: Redacted.value })
                }),
            max: poolSize,
            connectionTimeoutMillis: Duration.toMillis(CONNECT_TIMEOUT),
            application_name: "shum-booking",
            types: pgTypes
          })
          pool.on("error", () => {}) // an idle client's connection dropped: the pool replaces it
          prepareStatements(pool, observe)
          try {
            await pool.query("SELECT 1")
          } catch (cause) {
            await pool.end().catch(() => {})
            throw cause
          }
          return pool
        },
        catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
      })
    ).pipe(
      Effect.timeoutFail({
        duration: CONNECT_TIMEOUT,
        onTimeout: () =>
          new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" })
      })
    ),
    // a release runs uninterruptibly: a bounded wait (BoundedWait.ts); `end` waits for clients still checked out
    (pool) => promiseWithin("1 second", () => pool.end().catch(() => undefined))
  )

/**
 * The pool alone (no migrations), as the `SqlClient` and as itself (`PgPool`, for `DirectStatements.ts`). Columns
 * stay snake_case: no name transforms.
 */
export const client = (connection: DatabaseConnection, options: PoolOptions) =>
  Layer.unwrapEffect(
    Effect.map(PgPool, (acquired) =>
      PgClient.layerFromPool({ acquire: Effect.succeed(acquired), applicationName: "shum-booking", types: pgTypes })
    )
  ).pipe(Layer.provideMerge(Layer.scoped(PgPool, pool(connection, options))))

/** Migrations run while the layer is built, before anything that depends on it can serve. */
export const layer = (connection: DatabaseConnection, options: PoolOptions) =>
  MigrationsLive.pipe(Layer.provideMerge(client(connection, options)))

/**
 * Fails when the database this process owns is gone for good: the embedded default's PostgreSQL that
 * could not be restarted. Never, for a configured database: bringing it back is its operator's job, and
 * the server answers `/ready` 503 meanwhile. `main.ts` exits non-zero when it fails.
 */
export class DatabaseLost extends Context.Tag("infra/DatabaseLost")<
  DatabaseLost,
  Effect.Effect<never, EmbeddedPostgresError>
>() {}

/** The embedded default (D10): a PostgreSQL of the project's own, then the same pool and migrations. */
export const embedded = (options: PoolOptions & { readonly embedded?: EmbeddedPostgresOptions }) =>
  Layer.unwrapEffect(
    Effect.map(EmbeddedPostgres, ({ connection, lost }) =>
      layer(connection, options).pipe(Layer.merge(Layer.succeed(DatabaseLost, lost)))
    )
  ).pipe(Layer.provide(EmbeddedPostgres.layer(options.embedded)))

export type DatabaseLayerError = SqlError | MigrationError | ConfigError.ConfigError | EmbeddedPostgresError

type DatabaseSettings = Pick<Settings, "env" | "database" | "databasePoolSize" | "embedded">

/**
 * Migrated client for the configured database; with none configured (no DB_HOST nor DATABASE_URL),
 * the embedded default, except under APP_ENV=production where that is a configuration error.
 */
export const fromSettings = (
  settings: DatabaseSettings
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgPool | DatabaseLost, DatabaseLayerError> => {
  const options = { poolSize: settings.databasePoolSize }
  if (Option.isSome(settings.database)) {
    return layer(settings.database.value, options).pipe(Layer.merge(Layer.succeed(DatabaseLost, Effect.never)))
  }
  if (settings.env === "production") {
    return Layer.fail(ConfigError.MissingData(["DB_HOST"], "set DB_HOST or DATABASE_URL (APP_ENV=production)"))
  }
  return embedded({ ...options, embedded: settings.embedded })
}

/** Only the database variables: what `npm run migrate` needs (no JWT secret and such). */
export const settings: Config.Config<DatabaseSettings> = Config.all({
  env: appEnv,
  database,
  databasePoolSize,
  embedded: embeddedSettings
})

export const DatabaseLive = Layer.unwrapEffect(Effect.map(AppConfig, fromSettings))

export class DatabaseUnavailable extends Schema.TaggedError<DatabaseUnavailable>()("DatabaseUnavailable", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** Readiness probe: `SELECT 1`, failing within `timeout` (default 2 s) however the database misbehaves. */
export const pingWithin = (timeout: Duration.DurationInput) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
    Effect.mapError((cause) => new DatabaseUnavailable({ message: "database query failed", cause })),
    // a hung connection attempt is abandoned in the background rather than awaited
    Effect.disconnect,
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new DatabaseUnavailable({ message: `database did not answer within ${Duration.format(timeout)}` })
    }),
    Effect.asVoid,
    Effect.withSpan("Database.ping")
  )

export const ping = pingWithin("2 seconds")
