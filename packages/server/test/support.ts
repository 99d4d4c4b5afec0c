/**
 * The real server on a random port over a fresh, migrated database of its own, with the Redis-backed
 * services in memory; plus helpers to sign users in. Every response its client receives is checked against
 * the OpenAPI document (`Contract.ts`): a response the document does not describe fails the request.
 */
import { HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { ShumApi } from "@shum/domain/Api"
import { AppConfig, type DatabaseConnection } from "@shum/infra/Config"
import { ImageJobsMemoryLive } from "@shum/infra/ImageJobsMemory"
import * as Database from "@shum/infra/Database"
import { tracingDisabled } from "@shum/infra/Telemetry"
import { databaseUrl, freshDatabase, randomName } from "@shum/infra/Testing"
import { ConfigProvider, Effect, Layer, Logger, LogLevel, Option } from "effect"
import pg from "pg"
import { BcryptCost, Passwords } from "../src/Auth/Passwords.js"
import { FailureCountsMemory } from "../src/Audit/SignInBursts.js"
import { HttpLive } from "../src/HttpLive.js"
import { QueryMetricsLive } from "../src/Metrics.js"
import type { RateLimiter } from "../src/RateLimit/RateLimiter.js"
import { InProcessServicesLive, ServicesLive } from "../src/Services.js"
import type { WorkerStatus } from "../src/System/WorkerStatus.js"
import { UsersRepo } from "../src/Users/UsersRepo.js"
import { layerTestChecked } from "./ContractClient.js"

export const TEST_SECRET = "test-secret-key-for-shum-booking-tests-only"

export const configProvider = (values: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries({ APP_ENV: "test", JWT_SECRET_KEY: TEST_SECRET, ...values })))

/** The database's name is exposed for fixtures written with plain SQL. */
export class TestDatabaseName extends Effect.Tag("test/TestDatabaseName")<TestDatabaseName, string>() {}

export interface TestServerOptions {
  /** The Redis-shaped services; in process memory by default (`RedisServicesLive(...)` for the real Redis). */
  readonly services?: Layer.Layer<RateLimiter | WorkerStatus, unknown>
  /** Installed around the whole server after the default WARNING log level: a logger, a tracer, a level. */
  readonly around?: Layer.Layer<never>
  /**
   * Spans on (for a tracer in `around`). Off by default, as in production without an OTLP endpoint
   * (`Telemetry.tracingDisabled`).
   */
  readonly tracing?: boolean
  /**
   * bcrypt's cost for new hashes. 4 by default here (a sign-up in ~1 ms instead of ~250 ms, the same code
   * path); the service's own 12 for the tests whose subject is bcrypt's cost or time (`Passwords.test.ts`,
   * `Admin.test.ts`).
   */
  readonly bcryptCost?: number
  /** Runs on the fresh, empty database before the server migrates it (e.g. legacy rows of an older schema). */
  readonly prepareDatabase?: (connection: DatabaseConnection & { readonly name: string }) => Effect.Effect<void>
  /**
   * A database another test server uses too (replicas on one database), instead of a fresh one of its own;
   * its owner drops it.
   */
  readonly database?: DatabaseConnection & { readonly name: string }
}

export const TEST_BCRYPT_COST = 4

export const makeTestServer = (env: Record<string, string> = {}, options: TestServerOptions = {}) =>
  Layer.unwrapScoped(
    Effect.map(
      options.database !== undefined
        ? Effect.succeed(options.database)
        : Effect.tap(freshDatabase, (connection) => options.prepareDatabase?.(connection) ?? Effect.void),
      (connection) =>
        HttpLive.pipe(
          Layer.provideMerge(ServicesLive),
          Layer.provide(options.services ?? InProcessServicesLive),
          // the image job stream and the sign-in failure counts in memory, unless `services` brings its own
          // (`RedisServicesLive` does)
          Layer.provide(ImageJobsMemoryLive),
          Layer.provide(FailureCountsMemory),
          Layer.provideMerge(Database.layer(connection, { poolSize: 5 }).pipe(Layer.provide(QueryMetricsLive))),
          Layer.provideMerge(layerTestChecked(env["ROOT_PATH"] ?? "")),
          Layer.provideMerge(AppConfig.Default),
          Layer.provideMerge(Layer.succeed(TestDatabaseName, connection.name)),
          Layer.provide(options.around ?? Layer.empty),
          Layer.provide(options.tracing === true ? Layer.empty : tracingDisabled),
          Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)),
          Layer.provide(Layer.succeed(BcryptCost, options.bcryptCost ?? TEST_BCRYPT_COST)),
          Layer.provide(Layer.setConfigProvider(configProvider({ DATABASE_URL: "postgres://unused", ...env })))
        )
    )
  )

export const TestServer = makeTestServer()

export const client = HttpApiClient.make(ShumApi)

/** A typed client that sends the given access token as `Authorization: Bearer`. */
export const clientWithToken = (token: string) =>
  HttpApiClient.make(ShumApi, { transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token)) })

export const uniqueEmail = (prefix = "user") => `${randomName(prefix)}@example.com`

/** Creates a user with this role directly in the database (no HTTP), then signs in through the API. */
export const signIn = (role: "user" | "admin" = "user", password = "password123") =>
  Effect.gen(function* () {
    const users = yield* UsersRepo
    const passwords = yield* Passwords
    const email = uniqueEmail(role)
    const row = yield* users.insert({ email, hashed_password: yield* passwords.hash(password), role })
    const api = yield* client
    const token = yield* api.auth.login({ payload: { email, password } })
    return { id: row.id, email, password, token: token.access_token, refreshToken: token.refresh_token }
  })

/** A plain pg client on the server's maintenance database, for what the code under test must not do itself. */
export const withAdminClient = <A>(f: (client: pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const admin = new pg.Client({ connectionString: databaseUrl("postgres") })
    await admin.connect()
    try {
      return await f(admin)
    } finally {
      await admin.end()
    }
  })

/** The `detail` of a problem the typed client decoded (its error union also holds transport errors). */
export const detailOf = (error: unknown): unknown => (error as { readonly detail?: unknown }).detail

export const optionGet = <A>(option: Option.Option<A>): A => Option.getOrThrow(option)
