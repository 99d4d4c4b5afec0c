import { assert, describe, it } from "@effect/vitest"
import { resolve } from "node:path"
import { ConfigProvider, Duration, Effect, Layer, LogLevel, Option, Redacted } from "effect"
import { AppConfig, settings } from "../src/Config.js"

const load = (env: Record<string, string>) =>
  settings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

const failure = (env: Record<string, string>) => load(env).pipe(Effect.flip, Effect.map(String))

describe("Config", () => {
  it.effect("defaults", () =>
    Effect.gen(function* () {
      const s = yield* load({})
      assert.strictEqual(s.env, "local")
      assert.deepStrictEqual(
        {
          ...s.http,
          shutdownTimeout: Duration.toSeconds(s.http.shutdownTimeout),
          shutdownDrain: Duration.toSeconds(s.http.shutdownDrain),
          headersTimeout: Duration.toSeconds(s.http.headersTimeout),
          requestTimeout: Duration.toSeconds(s.http.requestTimeout),
          keepAliveTimeout: Duration.toSeconds(s.http.keepAliveTimeout),
          sendTimeout: Duration.toSeconds(s.http.sendTimeout)
        },
        {
          host: "0.0.0.0",
          port: 8000,
          rootPath: "",
          corsOrigins: [],
          trustedProxies: ["127.0.0.0/8", "::1/128"],
          maxJsonBodyKb: 1024,
          maxJsonBodyBytes: 1024 * 1024,
          shutdownTimeout: 10,
          shutdownDrain: 0,
          headersTimeout: 20,
          requestTimeout: 120,
          keepAliveTimeout: 5,
          sendTimeout: 30
        }
      )
      assert.isTrue(Option.isNone(s.database))
      assert.isTrue(Option.isNone(s.redis))
      assert.strictEqual(s.databasePoolSize, 10)
      assert.strictEqual(s.jwt.algorithm, "HS256")
      assert.strictEqual(Duration.toMinutes(s.jwt.accessTokenTtl), 30)
      assert.strictEqual(Duration.toHours(s.jwt.refreshTokenTtl), 30 * 24)
      assert.isFalse(s.jwt.cookieSecure)
      assert.isTrue(s.jwt.secretGenerated)
      assert.isAtLeast(Redacted.value(s.jwt.secret).length, 32)
      assert.deepStrictEqual(s.logging, { level: LogLevel.Info, json: false })
      assert.deepStrictEqual(s.rateLimit, { enabled: true, perMinute: 60, authPerMinute: 5 })
      assert.isTrue(s.metrics.enabled)
      assert.strictEqual(s.images.dir, resolve("static/images"))
      assert.strictEqual(s.images.maxFileSizeBytes, 10 * 1024 * 1024)
      assert.strictEqual(Duration.toSeconds(s.images.uploadWait), 30)
      assert.strictEqual(s.images.jobMaxAttempts, 5)
      assert.isTrue(Option.isNone(s.admin))
      assert.isTrue(Option.isNone(s.telemetry.otlpEndpoint))
      // the worker's probe server has a port of its own: a server and a worker side by side with one env file
      assert.deepStrictEqual(
        { ...s.worker, requeueAfter: Duration.toSeconds(s.worker.requeueAfter) },
        { port: 8001, name: "", concurrency: 2, requeueAfter: 900 }
      )
      assert.notStrictEqual(s.worker.port, s.http.port)
    })
  )

  it.effect("worker settings: WORKER_PORT, WORKER_NAME, IMAGE_WORKER_CONCURRENCY, IMAGE_PENDING_REQUEUE_SECONDS", () =>
    Effect.gen(function* () {
      const s = yield* load({
        WORKER_PORT: "9101",
        WORKER_NAME: " worker-a ",
        IMAGE_WORKER_CONCURRENCY: "4",
        IMAGE_PENDING_REQUEUE_SECONDS: "600"
      })
      assert.deepStrictEqual(
        { ...s.worker, requeueAfter: Duration.toSeconds(s.worker.requeueAfter) },
        { port: 9101, name: "worker-a", concurrency: 4, requeueAfter: 600 }
      )
      for (const [name, value] of [
        ["WORKER_PORT", "65536"],
        ["WORKER_PORT", "http"],
        ["IMAGE_WORKER_CONCURRENCY", "0"],
        ["IMAGE_WORKER_CONCURRENCY", "65"],
        ["IMAGE_PENDING_REQUEUE_SECONDS", "9"]
      ] as const) {
        assert.include(yield* failure({ [name]: value }), name, `${name}=${value}`)
      }
    })
  )

  it.effect("the generated JWT secret is the same for every load in the process", () =>
    Effect.gen(function* () {
      const [a, b] = [yield* load({}), yield* load({})]
      assert.strictEqual(Redacted.value(a.jwt.secret), Redacted.value(b.jwt.secret))
    })
  )

  it.effect("production requires JWT_SECRET_KEY and logs JSON by default", () =>
    Effect.gen(function* () {
      assert.include(yield* failure({ APP_ENV: "production" }), "JWT_SECRET_KEY")
      assert.include(yield* failure({ APP_ENV: "test", DB_HOST: "db" }), "JWT_SECRET_KEY")
      const s = yield* load({ APP_ENV: "Production", JWT_SECRET_KEY: "s3cret", JWT_ALGORITHM: "hs512" })
      assert.strictEqual(Redacted.value(s.jwt.secret), "s3cret")
      assert.isFalse(s.jwt.secretGenerated)
      assert.strictEqual(s.jwt.algorithm, "HS512")
      assert.isTrue(s.logging.json)
    })
  )

  it.effect("the shutdown drain: 5 s by default in production (past the edge's upstream keep-alive), else 0", () =>
    Effect.gen(function* () {
      const drain = (env: Record<string, string>) =>
        Effect.map(load({ JWT_SECRET_KEY: "s3cret", ...env }), (s) => Duration.toSeconds(s.http.shutdownDrain))
      assert.strictEqual(yield* drain({ APP_ENV: "production" }), 5)
      assert.strictEqual(yield* drain({ APP_ENV: "production", SHUTDOWN_DRAIN_SECONDS: "0" }), 0)
      assert.strictEqual(yield* drain({ APP_ENV: "test" }), 0)
      assert.strictEqual(yield* drain({ SHUTDOWN_DRAIN_SECONDS: "12" }), 12)
      assert.include(yield* failure({ SHUTDOWN_DRAIN_SECONDS: "-1" }), "SHUTDOWN_DRAIN_SECONDS")
    })
  )

  it.effect("DATABASE_URL or DB_* parts; DATABASE_URL wins", () =>
    Effect.gen(function* () {
      const url = "postgresql://app:pw@db.internal:6432/booking"
      const byUrl = yield* load({ DATABASE_URL: url, DB_HOST: "ignored" })
      assert.deepStrictEqual(
        Option.map(byUrl.database, (c) => (c._tag === "Url" ? Redacted.value(c.url) : c._tag)),
        Option.some(url)
      )
      const byParts = yield* load({ DB_HOST: "postgres", DB_PASSWORD: "pw", DB_POOL_SIZE: "3" })
      const c = Option.getOrThrow(byParts.database)
      assert.strictEqual(c._tag, "Params")
      if (c._tag === "Params") {
        assert.deepStrictEqual([c.host, c.port, c.database, c.username], ["postgres", 5432, "booking", "postgres"])
        assert.strictEqual(Option.map(c.password, Redacted.value).pipe(Option.getOrNull), "pw")
      }
      assert.strictEqual(byParts.databasePoolSize, 3)
    })
  )

  it.effect("REDIS_URL or REDIS_* parts", () =>
    Effect.gen(function* () {
      const byUrl = yield* load({ REDIS_URL: "rediss://:pw@cache:6380/2" })
      assert.strictEqual(Option.getOrThrow(byUrl.redis)._tag, "Url")
      const byParts = Option.getOrThrow((yield* load({ REDIS_HOST: "redis", REDIS_DB: "3" })).redis)
      assert.deepStrictEqual(byParts, { _tag: "Params", host: "redis", port: 6379, db: 3, password: Option.none() })
    })
  )

  it.effect("a bad value fails naming its variable", () =>
    Effect.gen(function* () {
      const cases: Array<[string, string]> = [
        ["PORT", "abc"],
        ["PORT", "70000"],
        ["DB_POOL_SIZE", "0"],
        ["DB_PORT", "5432x"],
        ["APP_ENV", "staging"],
        ["JWT_ALGORITHM", "RS256"],
        ["JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "-1"],
        ["JWT_COOKIE_SECURE", "maybe"],
        ["LOG_LEVEL", "verbose"],
        ["LOG_FORMAT_JSON", "2"],
        ["TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"],
        ["TRUSTED_PROXIES", "10.0.0.0/33"],
        ["CORS_ORIGINS", "ftp://files.example.com"],
        ["DATABASE_URL", "mysql://root@db/booking"],
        ["REDIS_URL", "http://cache"],
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"],
        ["ADMIN_PASSWORD", "short"],
        ["ADMIN_PASSWORD", "ж".repeat(72)],
        ["HTTP_HEADERS_TIMEOUT_SECONDS", "0"],
        ["HTTP_KEEP_ALIVE_TIMEOUT_SECONDS", "1.5"],
        ["HTTP_SEND_TIMEOUT_SECONDS", "0"],
        ["HTTP_SEND_TIMEOUT_SECONDS", "3601"],
        // the headers are part of the request: their bound may not exceed its
        ["HTTP_REQUEST_TIMEOUT_SECONDS", "10"]
      ]
      for (const [name, value] of cases) {
        const message = yield* failure({ [name]: value, ADMIN_EMAIL: "admin@example.com" })
        assert.include(message, name, `${name}=${value}`)
      }
    })
  )

  it.effect("every bad value is reported at once", () =>
    Effect.gen(function* () {
      const message = yield* failure({ PORT: "abc", DB_POOL_SIZE: "0" })
      assert.include(message, "PORT")
      assert.include(message, "DB_POOL_SIZE")
    })
  )

  it.effect("empty or blank values count as unset", () =>
    Effect.gen(function* () {
      const s = yield* load({
        PORT: "",
        DB_HOST: "",
        REDIS_HOST: " ",
        LOG_LEVEL: "",
        JWT_SECRET_KEY: "",
        ROOT_PATH: ""
      })
      assert.strictEqual(s.http.port, 8000)
      assert.isTrue(Option.isNone(s.database))
      assert.isTrue(Option.isNone(s.redis))
      assert.strictEqual(s.logging.level, LogLevel.Info)
      assert.isTrue(s.jwt.secretGenerated)
    })
  )

  it.effect("ROOT_PATH is normalised or refused", () =>
    Effect.gen(function* () {
      const root = (value: string) => load({ ROOT_PATH: value }).pipe(Effect.map((s) => s.http.rootPath))
      assert.strictEqual(yield* root("/apps/shum-booking"), "/apps/shum-booking")
      assert.strictEqual(yield* root("/apps/shum-booking/"), "/apps/shum-booking")
      assert.strictEqual(yield* root("/"), "")
      for (const bad of ["apps/shum-booking", "/apps//x", "/a b", "/x?y=1"]) {
        assert.include(yield* failure({ ROOT_PATH: bad }), "ROOT_PATH", bad)
      }
    })
  )

  it.effect("levels, booleans and lists", () =>
    Effect.gen(function* () {
      const s = yield* load({
        LOG_LEVEL: "warning",
        LOG_FORMAT_JSON: "YES",
        CORS_ORIGINS: "https://a.example, http://localhost:3000/",
        TRUSTED_PROXIES: "10.1.2.3, fd00::/8",
        RATE_LIMIT_ENABLED: "0"
      })
      assert.deepStrictEqual(s.logging, { level: LogLevel.Warning, json: true })
      assert.deepStrictEqual(s.http.corsOrigins, ["https://a.example", "http://localhost:3000"])
      assert.deepStrictEqual(s.http.trustedProxies, ["10.1.2.3", "fd00::/8"])
      assert.isFalse(s.rateLimit.enabled)
      assert.strictEqual((yield* load({ LOG_LEVEL: "Critical" })).logging.level, LogLevel.Fatal)
    })
  )

  it.effect("test mode: no rate limiting or metrics unless asked for", () =>
    Effect.gen(function* () {
      const test = { APP_ENV: "test", JWT_SECRET_KEY: "k" }
      const off = yield* load(test)
      assert.isFalse(off.rateLimit.enabled)
      assert.isFalse(off.metrics.enabled)
      assert.isTrue(off.logging.json)
      const on = yield* load({ ...test, RATE_LIMIT_ENABLED_IN_TESTS: "true", ENABLE_METRICS_IN_TESTS: "1" })
      assert.isTrue(on.rateLimit.enabled)
      assert.isTrue(on.metrics.enabled)
    })
  )

  it.effect("admin: both or neither", () =>
    Effect.gen(function* () {
      const s = yield* load({ ADMIN_EMAIL: "admin@example.com", ADMIN_PASSWORD: "change-me-now" })
      assert.strictEqual(Option.getOrThrow(s.admin).email, "admin@example.com")
      assert.include(yield* failure({ ADMIN_EMAIL: "admin@example.com" }), "ADMIN_PASSWORD")
      assert.include(yield* failure({ ADMIN_PASSWORD: "change-me-now" }), "ADMIN_EMAIL")
    })
  )

  it.effect("stay limits (D11): MAX_STAY_NIGHTS 90 and BOOKING_HORIZON_DAYS 730 by default, bounded", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual((yield* load({})).stays, { maxNights: 90, horizonDays: 730 })
      assert.deepStrictEqual((yield* load({ MAX_STAY_NIGHTS: "14", BOOKING_HORIZON_DAYS: "0" })).stays, {
        maxNights: 14,
        horizonDays: 0
      })
      for (const [name, value] of [
        ["MAX_STAY_NIGHTS", "0"],
        ["MAX_STAY_NIGHTS", "3661"],
        ["MAX_STAY_NIGHTS", "7.5"],
        ["BOOKING_HORIZON_DAYS", "-1"],
        ["BOOKING_HORIZON_DAYS", "36601"]
      ] as const) {
        const message = yield* failure({ [name]: value })
        assert.include(message, name, value)
        assert.include(message, "expected an integer between", value)
      }
    })
  )

  it.effect("AppConfig.fromEnv", () =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      assert.strictEqual(config.http.port, 9001)
    }).pipe(Effect.provide(AppConfig.fromEnv({ PORT: "9001" })))
  )

  it.effect("AppConfig.Default reads the ConfigProvider", () =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      assert.strictEqual(config.http.port, 9000)
    }).pipe(
      Effect.provide(
        AppConfig.Default.pipe(
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["PORT", "9000"]]))))
        )
      )
    )
  )
})
