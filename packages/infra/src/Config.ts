import { randomBytes } from "node:crypto"
import { isIP } from "node:net"
import { resolve } from "node:path"
import { DEFAULT_DATA_DIR, DEFAULT_PORT } from "./EmbeddedPostgres.js"
import { HEARTBEATS_KEY, type ImageJobsSettings } from "./ImageJobs.js"
import {
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Layer,
  LogLevel,
  Option,
  Redacted
} from "effect"

export type AppEnv = "local" | "test" | "production"
export type JwtAlgorithm = "HS256" | "HS384" | "HS512"

export type DatabaseConnection =
  | { readonly _tag: "Url"; readonly url: Redacted.Redacted }
  | {
      readonly _tag: "Params"
      readonly host: string
      readonly port: number
      readonly database: string
      readonly username: string
      readonly password: Option.Option<Redacted.Redacted>
    }

export type RedisConnection =
  | { readonly _tag: "Url"; readonly url: Redacted.Redacted }
  | {
      readonly _tag: "Params"
      readonly host: string
      readonly port: number
      readonly db: number
      readonly password: Option.Option<Redacted.Redacted>
    }

// ---------------------------------------------------------------------------
// Variable readers. Empty (or blank) values count as unset, as in the original.
// Every parse failure is a ConfigError whose path is the variable's name.

type Parse<A> = (raw: string) => Either.Either<A, string>

const variable = <A>(name: string, parse: Parse<A>): Config.Config<Option.Option<A>> =>
  Config.string(name).pipe(
    Config.option,
    Config.mapOrFail((value) => {
      const raw = Option.map(value, (s) => s.trim()).pipe(Option.filter((s) => s !== ""))
      if (Option.isNone(raw)) return Either.right(Option.none())
      return Either.mapBoth(parse(raw.value), {
        onLeft: (message) => ConfigError.InvalidData([name], message),
        onRight: Option.some
      })
    })
  )

const withDefault = <A>(config: Config.Config<Option.Option<A>>, fallback: A): Config.Config<A> =>
  Config.map(
    config,
    Option.getOrElse(() => fallback)
  )

const text: Parse<string> = Either.right

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> =>
  (raw) => {
    const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : Number.NaN
    return Number.isSafeInteger(n) && n >= min && n <= max
      ? Either.right(n)
      : Either.left(
          max === Number.MAX_SAFE_INTEGER
            ? `expected an integer of at least ${min}, got "${raw}"`
            : `expected an integer between ${min} and ${max}, got "${raw}"`
        )
  }

const bool: Parse<boolean> = (raw) => {
  const value = raw.toLowerCase()
  if (["1", "true", "yes"].includes(value)) return Either.right(true)
  if (["0", "false", "no"].includes(value)) return Either.right(false)
  return Either.left(`expected one of 1/true/yes/0/false/no, got "${raw}"`)
}

const oneOf =
  <A>(choices: Record<string, A>): Parse<A> =>
  (raw) => {
    const value = choices[raw.toUpperCase()]
    return value === undefined
      ? Either.left(`expected one of ${Object.keys(choices).join("/")}, got "${raw}"`)
      : Either.right(value)
  }

const list =
  <A>(item: Parse<A>): Parse<ReadonlyArray<A>> =>
  (raw) =>
    Either.all(
      raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
        .map(item)
    )

const url =
  (...protocols: ReadonlyArray<string>): Parse<string> =>
  (raw) => {
    try {
      const parsed = new URL(raw)
      if (protocols.includes(parsed.protocol)) return Either.right(raw)
    } catch {
      // reported below without echoing the value, which may contain a password
    }
    return Either.left(`expected a ${protocols.map((p) => `${p}//…`).join(" or ")} URL`)
  }

const cidr: Parse<string> = (raw) => {
  const [address = "", prefix, ...rest] = raw.split("/")
  const version = isIP(address)
  const max = version === 6 ? 128 : 32
  const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= max)
  return version !== 0 && prefixOk && rest.length === 0
    ? Either.right(raw)
    : Either.left(`expected IP addresses or CIDR ranges, got "${raw}"`)
}

const origin: Parse<string> = (raw) => {
  if (raw === "*") return Either.right(raw)
  try {
    const parsed = new URL(raw)
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return Either.right(parsed.origin)
  } catch {
    // fall through
  }
  return Either.left(`expected "*" or origins like https://example.com, got "${raw}"`)
}

const rootPath: Parse<string> = (raw) => {
  const path = raw.replace(/\/+$/, "")
  return path === "" || (path.startsWith("/") && /^(\/[\w.~%!$&'()*+,;=:@-]+)+$/.test(path))
    ? Either.right(path)
    : Either.left(`expected a path prefix like "/apps/shum-booking", got "${raw}"`)
}

const redacted = (name: string) => variable(name, (raw) => Either.right(Redacted.make(raw)))

// ---------------------------------------------------------------------------
// Grouped settings. Each group is a plain Config, usable on its own in tests.

export const appEnv: Config.Config<AppEnv> = withDefault(
  variable("APP_ENV", oneOf<AppEnv>({ LOCAL: "local", TEST: "test", PRODUCTION: "production" })),
  "local"
)

export const http = Config.all({
  host: withDefault(variable("HOST", text), "0.0.0.0"),
  port: withDefault(variable("PORT", int(0, 65535)), 8000),
  rootPath: withDefault(variable("ROOT_PATH", rootPath), ""),
  corsOrigins: withDefault(variable("CORS_ORIGINS", list(origin)), []),
  // loopback only (docs/decisions.md D12): exposed directly, no peer may name another client; a proxy's
  // network is named explicitly (compose and K3s do)
  trustedProxies: withDefault(variable("TRUSTED_PROXIES", list(cidr)), ["127.0.0.0/8", "::1/128"]),
  shutdownTimeout: Config.map(withDefault(variable("SHUTDOWN_TIMEOUT_SECONDS", int(0)), 10), Duration.seconds),
  /**
   * After SIGTERM, keep serving (with `/ready` 503 and `Connection: close`) this long before refusing
   * connections. Default 5 s under APP_ENV=production — longer than the edge's upstream keep-alive (nginx
   * closes its idle connections after 4 s), so every kept-open connection has ended on the proxy's side or
   * been told to close before the server closes any — and 0 in local and test, where nothing balances.
   */
  shutdownDrain: Config.map(
    Config.all({ env: appEnv, seconds: variable("SHUTDOWN_DRAIN_SECONDS", int(0)) }),
    ({ env, seconds }) => Duration.seconds(Option.getOrElse(seconds, () => (env === "production" ? 5 : 0)))
  ),
  /**
   * docs/decisions.md D11: the largest request body other than a multipart upload (those keep
   * `MAX_IMAGE_FILE_SIZE_MB`), in KiB; a larger one is a 413, read no further than this.
   */
  maxJsonBodyKb: withDefault(variable("MAX_JSON_BODY_KB", int(1, 1024 * 1024)), 1024),
  /**
   * docs/operations.md §2: how long a client may take to send a request's headers, and the whole request
   * (headers and body), before the server answers 408 and closes the connection — a client sending a byte at a
   * time (slowloris) holds a socket no longer; and how long an idle kept-alive connection stays open (longer
   * than the edge's upstream keep-alive, 4 s, so nginx closes its idle connections first).
   */
  headersTimeout: Config.map(withDefault(variable("HTTP_HEADERS_TIMEOUT_SECONDS", int(1, 3600)), 20), Duration.seconds),
  requestTimeout: Config.map(
    withDefault(variable("HTTP_REQUEST_TIMEOUT_SECONDS", int(1, 86_400)), 120),
    Duration.seconds
  ),
  keepAliveTimeout: Config.map(
    withDefault(variable("HTTP_KEEP_ALIVE_TIMEOUT_SECONDS", int(1, 3600)), 5),
    Duration.seconds
  ),
  /**
   * docs/operations.md §2: how long an answer may wait, unread, for the client to take any of it before the
   * connection is cut — a client that asks for large answers and never reads them would otherwise keep each
   * connection and its unsent answer for good. A reader that is slow but keeps reading is not cut.
   */
  sendTimeout: Config.map(withDefault(variable("HTTP_SEND_TIMEOUT_SECONDS", int(1, 3600)), 30), Duration.seconds)
}).pipe(
  Config.mapOrFail((http) =>
    Duration.lessThanOrEqualTo(http.headersTimeout, http.requestTimeout)
      ? Either.right({ ...http, maxJsonBodyBytes: http.maxJsonBodyKb * 1024 })
      : Either.left(
          ConfigError.InvalidData(
            ["HTTP_REQUEST_TIMEOUT_SECONDS"],
            "must be at least HTTP_HEADERS_TIMEOUT_SECONDS: the headers are part of the request"
          )
        )
  )
)

/** `None` when neither DATABASE_URL nor DB_HOST is set: the embedded default (D10). DATABASE_URL wins. */
export const database: Config.Config<Option.Option<DatabaseConnection>> = Config.all({
  url: variable("DATABASE_URL", url("postgres:", "postgresql:")),
  host: variable("DB_HOST", text),
  port: withDefault(variable("DB_PORT", int(1, 65535)), 5432),
  database: withDefault(variable("DB_NAME", text), "booking"),
  username: withDefault(variable("DB_USERNAME", text), "postgres"),
  password: redacted("DB_PASSWORD")
}).pipe(
  Config.map(({ host, url, ...rest }): Option.Option<DatabaseConnection> =>
    Option.isSome(url)
      ? Option.some({ _tag: "Url", url: Redacted.make(url.value) })
      : Option.map(host, (host) => ({ _tag: "Params", host, ...rest }))
  )
)

export const databasePoolSize = withDefault(variable("DB_POOL_SIZE", int(1, 1000)), 10)

/** `None` when neither REDIS_URL nor REDIS_HOST is set: in-process implementations (D10). REDIS_URL wins. */
export const redis: Config.Config<Option.Option<RedisConnection>> = Config.all({
  url: variable("REDIS_URL", url("redis:", "rediss:")),
  host: variable("REDIS_HOST", text),
  port: withDefault(variable("REDIS_PORT", int(1, 65535)), 6379),
  db: withDefault(variable("REDIS_DB", int(0)), 0),
  password: redacted("REDIS_PASSWORD")
}).pipe(
  Config.map(({ host, url, ...rest }): Option.Option<RedisConnection> =>
    Option.isSome(url)
      ? Option.some({ _tag: "Url", url: Redacted.make(url.value) })
      : Option.map(host, (host) => ({ _tag: "Params", host, ...rest }))
  )
)

// One secret per process, so every reader of the config agrees on it.
const generatedSecret = Redacted.make(randomBytes(32).toString("base64url"))

/** Without JWT_SECRET_KEY, APP_ENV=local (the embedded default) gets a throw-away secret; elsewhere it is required. */
export const jwt = (env: AppEnv) =>
  Config.all({
    secret: redacted("JWT_SECRET_KEY"),
    algorithm: withDefault(
      variable("JWT_ALGORITHM", oneOf<JwtAlgorithm>({ HS256: "HS256", HS384: "HS384", HS512: "HS512" })),
      "HS256"
    ),
    accessTokenTtl: Config.map(withDefault(variable("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", int(1)), 30), Duration.minutes),
    refreshTokenTtl: Config.map(withDefault(variable("JWT_REFRESH_TOKEN_EXPIRE_DAYS", int(1)), 30), Duration.days),
    cookieSecure: withDefault(variable("JWT_COOKIE_SECURE", bool), false)
  }).pipe(
    Config.mapOrFail(({ secret, ...rest }) =>
      Option.isSome(secret)
        ? Either.right({ ...rest, secret: secret.value, secretGenerated: false })
        : env === "local"
          ? Either.right({ ...rest, secret: generatedSecret, secretGenerated: true })
          : Either.left(ConfigError.MissingData(["JWT_SECRET_KEY"], `required when APP_ENV=${env}`))
    )
  )

export const logging = (env: AppEnv) =>
  Config.all({
    level: withDefault(
      variable(
        "LOG_LEVEL",
        oneOf({
          DEBUG: LogLevel.Debug,
          INFO: LogLevel.Info,
          WARNING: LogLevel.Warning,
          WARN: LogLevel.Warning,
          ERROR: LogLevel.Error,
          CRITICAL: LogLevel.Fatal,
          FATAL: LogLevel.Fatal
        })
      ),
      LogLevel.Info
    ),
    json: withDefault(variable("LOG_FORMAT_JSON", bool), env !== "local")
  })

/** `enabled` folds in the test-mode default: off under APP_ENV=test unless RATE_LIMIT_ENABLED_IN_TESTS. */
export const rateLimit = (env: AppEnv) =>
  Config.all({
    enabled: withDefault(variable("RATE_LIMIT_ENABLED", bool), true),
    enabledInTests: withDefault(variable("RATE_LIMIT_ENABLED_IN_TESTS", bool), false),
    perMinute: withDefault(variable("RATE_LIMIT_PER_MINUTE", int(1)), 60),
    authPerMinute: withDefault(variable("RATE_LIMIT_AUTH_PER_MINUTE", int(1)), 5)
  }).pipe(
    Config.map(({ enabled, enabledInTests, ...rest }) => ({
      ...rest,
      enabled: enabled && (env !== "test" || enabledInTests)
    }))
  )

/**
 * The catalogue read cache (docs/decisions.md D7, `server/Catalogue/CatalogueCache.ts`): on unless
 * `CATALOGUE_CACHE_ENABLED=false`; at most `CATALOGUE_CACHE_MAX_ENTRIES` answers and `CATALOGUE_CACHE_MAX_MB`
 * MiB of them (bodies, keys and the raw targets they are also kept under, each body counted once), the least
 * recently used going first.
 */
export const catalogueCache = Config.all({
  enabled: withDefault(variable("CATALOGUE_CACHE_ENABLED", bool), true),
  maxEntries: withDefault(variable("CATALOGUE_CACHE_MAX_ENTRIES", int(1, 10_000_000)), 10_000),
  maxMb: withDefault(variable("CATALOGUE_CACHE_MAX_MB", int(1, 4096)), 16)
}).pipe(Config.map((cache) => ({ ...cache, maxBytes: cache.maxMb * 1024 * 1024 })))

/** Metrics are collected except under APP_ENV=test, unless ENABLE_METRICS_IN_TESTS. */
export const metrics = (env: AppEnv) =>
  Config.map(withDefault(variable("ENABLE_METRICS_IN_TESTS", bool), false), (enabledInTests) => ({
    enabled: env !== "test" || enabledInTests
  }))

export const images = Config.all({
  dir: Config.map(withDefault(variable("IMAGE_DIR", text), "./static/images"), (dir) => resolve(dir)),
  maxFileSizeMb: withDefault(variable("MAX_IMAGE_FILE_SIZE_MB", int(1, 1024)), 10),
  uploadWait: Config.map(withDefault(variable("IMAGE_UPLOAD_WAIT_SECONDS", int(0)), 30), Duration.seconds),
  jobMaxAttempts: withDefault(variable("IMAGE_JOB_MAX_ATTEMPTS", int(1)), 5)
}).pipe(Config.map((images) => ({ ...images, maxFileSizeBytes: images.maxFileSizeMb * 1024 * 1024 })))

/**
 * The image worker process (`packages/worker`). Its probe server (`/live`, `/ready`, `/metrics`) listens on
 * `HOST:WORKER_PORT`, a port of its own, so a server and a worker started with one env file on one host do
 * not collide. `WORKER_NAME` (blank: `worker@<host name>`, resolved by the worker) is its consumer and
 * health name; an image pending for `IMAGE_PENDING_REQUEUE_SECONDS` without its job is queued again.
 */
export const worker = Config.all({
  port: withDefault(variable("WORKER_PORT", int(0, 65535)), 8001),
  name: withDefault(variable("WORKER_NAME", text), ""),
  concurrency: withDefault(variable("IMAGE_WORKER_CONCURRENCY", int(1, 64)), 2),
  requeueAfter: Config.map(
    withDefault(variable("IMAGE_PENDING_REQUEUE_SECONDS", int(10, 86_400)), 900),
    Duration.seconds
  )
})

/**
 * Bounded work per stay (docs/decisions.md D11): a booking or an availability search covers at most
 * `MAX_STAY_NIGHTS` nights and begins at most `BOOKING_HORIZON_DAYS` days after today (UTC). The upper
 * bounds keep every accepted date far inside what PostgreSQL and the API's years (≤ 9999) hold.
 */
export const stays = Config.all({
  maxNights: withDefault(variable("MAX_STAY_NIGHTS", int(1, 3660)), 90),
  horizonDays: withDefault(variable("BOOKING_HORIZON_DAYS", int(0, 36600)), 730)
})

/**
 * Holds (docs/api.md §8.9): how long a hold keeps its units (`HOLD_TTL_SECONDS`, at most an hour) and how
 * many active holds one user may have at once (`MAX_ACTIVE_HOLDS_PER_USER`).
 */
export const holds = Config.all({
  ttlSeconds: withDefault(variable("HOLD_TTL_SECONDS", int(1, 3600)), 600),
  maxActivePerUser: withDefault(variable("MAX_ACTIVE_HOLDS_PER_USER", int(1, 1000)), 5)
})

/**
 * The audit log's sign-in failure bursts (docs/decisions.md D17): `AUDIT_SIGN_IN_BURST_THRESHOLD` failed
 * sign-ins for one e-mail or from one client address within `AUDIT_SIGN_IN_BURST_WINDOW_SECONDS` make one
 * `auth.sign_in_failed_burst` row per window, never one per failure.
 */
export const audit = Config.all({
  signInBurstThreshold: withDefault(variable("AUDIT_SIGN_IN_BURST_THRESHOLD", int(2, 1_000_000)), 10),
  signInBurstWindowSeconds: withDefault(variable("AUDIT_SIGN_IN_BURST_WINDOW_SECONDS", int(1, 86_400)), 300)
})

/**
 * The image job stream (`ImageJobs.ts`): `IMAGE_STREAM` (key prefix), how long a delivered job may stay
 * unacknowledged before another worker takes it over, how long one job may run, the first retry's delay;
 * and sharp's `IMAGE_MAX_INPUT_PIXELS` (the decompression-bomb guard of the upload and the worker).
 */
export const imageJobs = Config.all({
  prefix: withDefault(variable("IMAGE_STREAM", text), "shum:images"),
  visibilityTimeout: Config.map(
    withDefault(variable("IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS", int(1)), 120),
    Duration.seconds
  ),
  jobTimeout: Config.map(withDefault(variable("IMAGE_JOB_TIMEOUT_SECONDS", int(1)), 60), Duration.seconds),
  retryDelay: Config.map(withDefault(variable("IMAGE_JOB_RETRY_DELAY_SECONDS", int(0)), 2), Duration.seconds),
  maxInputPixels: withDefault(variable("IMAGE_MAX_INPUT_PIXELS", int(1_000_000)), 50_000_000)
}).pipe(
  Config.mapOrFail((settings) =>
    Duration.lessThan(settings.jobTimeout, settings.visibilityTimeout)
      ? Either.right(settings)
      : Either.left(
          ConfigError.InvalidData(
            ["IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS"],
            "must be longer than IMAGE_JOB_TIMEOUT_SECONDS, or running jobs would be taken over"
          )
        )
  )
)

/** A host name as `WEBHOOK_ALLOWED_HOSTS` lists it: a DNS name or an IP address, compared in lower case. */
const hostName: Parse<string> = (raw) => {
  const host = raw.toLowerCase().replace(/^\[(.*)\]$/, "$1")
  return isIP(host) !== 0 || /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(host)
    ? Either.right(host)
    : Either.left(`expected host names or IP addresses, got "${raw}"`)
}

/**
 * Webhooks (docs/decisions.md D16). `WEBHOOK_ALLOWED_HOSTS`: hosts a subscription may reach over plain
 * `http` and whose addresses may be loopback or private (development, tests); every other URL must be
 * `https` to a public address. `WEBHOOK_SECRET_KEY` encrypts the subscriptions' signing secrets at rest;
 * unset, a key derived from `JWT_SECRET_KEY` is used (and, when neither is set, local only, a random key kept
 * in `.data/webhook-secret.key`, so the embedded default's subscriptions survive a restart). Delivery: `WEBHOOK_TIMEOUT_SECONDS` per request, `WEBHOOK_MAX_ATTEMPTS` attempts `WEBHOOK_RETRY_BASE_SECONDS`
 * × 2ⁿ apart (with jitter; the defaults span about 24 h), a claim of `WEBHOOK_LEASE_SECONDS` on a delivery
 * in hand, the outbox read every `WEBHOOK_POLL_MS`, at most `WEBHOOK_CONCURRENCY` requests at once. Ended
 * deliveries and delivered events are deleted after `WEBHOOK_RETENTION_DAYS` (docs/operations.md §14).
 */
export const webhooks = Config.all({
  allowedHosts: withDefault(variable("WEBHOOK_ALLOWED_HOSTS", list(hostName)), []),
  secretKey: redacted("WEBHOOK_SECRET_KEY"),
  jwtSecret: redacted("JWT_SECRET_KEY"),
  timeout: Config.map(withDefault(variable("WEBHOOK_TIMEOUT_SECONDS", int(1, 60)), 5), Duration.seconds),
  maxAttempts: withDefault(variable("WEBHOOK_MAX_ATTEMPTS", int(1, 100)), 15),
  retryBase: Config.map(withDefault(variable("WEBHOOK_RETRY_BASE_SECONDS", int(0, 86_400)), 5), Duration.seconds),
  lease: Config.map(withDefault(variable("WEBHOOK_LEASE_SECONDS", int(2, 3600)), 30), Duration.seconds),
  pollInterval: Config.map(withDefault(variable("WEBHOOK_POLL_MS", int(10, 60_000)), 250), Duration.millis),
  concurrency: withDefault(variable("WEBHOOK_CONCURRENCY", int(1, 256)), 64),
  retention: Config.map(withDefault(variable("WEBHOOK_RETENTION_DAYS", int(1, 3650)), 30), Duration.days)
}).pipe(
  Config.mapOrFail(({ jwtSecret, secretKey, ...rest }) =>
    Duration.lessThan(rest.timeout, rest.lease)
      ? Either.right({
          ...rest,
          /** Where the encryption key comes from: `WEBHOOK_SECRET_KEY`, else `JWT_SECRET_KEY`, else none. */
          keyMaterial: Option.orElse(secretKey, () => jwtSecret)
        })
      : Either.left(
          ConfigError.InvalidData(
            ["WEBHOOK_LEASE_SECONDS"],
            "must be longer than WEBHOOK_TIMEOUT_SECONDS, or a delivery in hand would be sent twice"
          )
        )
  )
)
export type WebhookSettings = Config.Config.Success<typeof webhooks>

/** The job stream's settings (`ImageJobs.ts`): `imageJobs`, `IMAGE_JOB_MAX_ATTEMPTS` and the shutdown grace. */
export const imageJobSettings: Config.Config<ImageJobsSettings> = Config.all({ jobs: imageJobs, images, http }).pipe(
  Config.map(({ http, images, jobs }): ImageJobsSettings => ({
    prefix: jobs.prefix,
    maxAttempts: images.jobMaxAttempts,
    visibilityTimeout: jobs.visibilityTimeout,
    jobTimeout: jobs.jobTimeout,
    retryDelay: jobs.retryDelay,
    shutdownGrace: http.shutdownTimeout,
    heartbeatsKey: HEARTBEATS_KEY
  }))
)

/** sharp's options (`worker/ImageProcessor.ts`): `IMAGE_MAX_INPUT_PIXELS`, the decompression-bomb guard. */
export const imageProcessor = Config.map(imageJobs, (jobs) => ({ maxInputPixels: jobs.maxInputPixels }))

/**
 * Everything the image worker process (`worker/main.ts`) reads. It needs PostgreSQL and Redis (the embedded
 * default runs the worker inside the server instead), and queues a pending image again only after its job
 * could have been retried: `IMAGE_PENDING_REQUEUE_SECONDS` must exceed the visibility timeout.
 */
export const workerProcess = Config.all({
  http,
  worker,
  database,
  databasePoolSize,
  redis,
  images,
  jobs: imageJobSettings,
  processor: imageProcessor,
  webhooks,
  env: appEnv
}).pipe(
  Config.mapOrFail(({ database, redis, ...rest }) => {
    // it signs webhooks with the secrets the server encrypted (docs/decisions.md D16)
    if (Option.isNone(rest.webhooks.keyMaterial) && rest.env === "production") {
      return Either.left(
        ConfigError.MissingData(
          ["WEBHOOK_SECRET_KEY"],
          "the worker signs webhooks with secrets the server encrypted: set WEBHOOK_SECRET_KEY or JWT_SECRET_KEY as the server has them"
        )
      )
    }
    if (Option.isNone(redis)) {
      return Either.left(
        ConfigError.MissingData(["REDIS_HOST"], "the image worker needs Redis: set REDIS_HOST or REDIS_URL")
      )
    }
    if (Option.isNone(database)) {
      return Either.left(
        ConfigError.MissingData(["DB_HOST"], "the image worker needs PostgreSQL: set DB_HOST or DATABASE_URL")
      )
    }
    if (Duration.lessThanOrEqualTo(rest.worker.requeueAfter, rest.jobs.visibilityTimeout)) {
      return Either.left(
        ConfigError.InvalidData(
          ["IMAGE_PENDING_REQUEUE_SECONDS"],
          "must exceed IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS: a job still being retried would be queued twice"
        )
      )
    }
    return Either.right({ ...rest, database: database.value, redis: redis.value })
  })
)

/** Both or neither: one without the other is a misconfiguration. */
export const admin = Config.all({
  email: variable("ADMIN_EMAIL", text),
  // the API's password rule (docs/decisions.md D12): 8..72 characters and at most 72 bytes in UTF-8
  password: variable("ADMIN_PASSWORD", (raw) => {
    const characters = [...raw].length
    if (characters < 8 || characters > 72) return Either.left("expected 8 to 72 characters")
    if (Buffer.byteLength(raw, "utf8") > 72) return Either.left("expected at most 72 bytes in UTF-8")
    return Either.right(Redacted.make(raw))
  })
}).pipe(
  Config.mapOrFail(({ email, password }) => {
    if (Option.isSome(email) && Option.isSome(password)) {
      return Either.right(Option.some({ email: email.value, password: password.value }))
    }
    if (Option.isNone(email) && Option.isNone(password)) return Either.right(Option.none())
    const missing = Option.isNone(email) ? "ADMIN_EMAIL" : "ADMIN_PASSWORD"
    return Either.left(
      ConfigError.MissingData([missing], `${missing} must be set together with the other ADMIN_* variable`)
    )
  })
)

export const telemetry = Config.all({
  otlpEndpoint: variable("OTEL_EXPORTER_OTLP_ENDPOINT", url("http:", "https:"))
})

/** Every variable at once; all invalid values are reported together (after APP_ENV itself). */
/** The embedded default's PostgreSQL (D10): its data folder (kept between runs) and loopback port. */
export const embedded = Config.all({
  dataDir: Config.map(withDefault(variable("EMBEDDED_POSTGRES_DIR", text), DEFAULT_DATA_DIR), (dir) => resolve(dir)),
  port: withDefault(variable("EMBEDDED_POSTGRES_PORT", int(1, 65535)), DEFAULT_PORT),
  /** Only the default port gives way to a free one when taken (another checkout's); a configured one must be free. */
  portFallback: Config.map(variable("EMBEDDED_POSTGRES_PORT", int(1, 65535)), Option.isNone)
})

export const settings = Effect.flatMap(appEnv, (env) =>
  Config.all({
    env: Config.succeed(env),
    http,
    database,
    databasePoolSize,
    embedded,
    redis,
    jwt: jwt(env),
    logging: logging(env),
    rateLimit: rateLimit(env),
    metrics: metrics(env),
    catalogueCache,
    images,
    imageJobs,
    worker,
    stays,
    holds,
    audit,
    admin,
    telemetry,
    webhooks
  })
)

export type Settings = Effect.Effect.Success<typeof settings>

/** The whole typed configuration, read once at start-up. */
export class AppConfig extends Effect.Service<AppConfig>()("infra/AppConfig", {
  effect: Effect.tap(settings, (settings) =>
    settings.jwt.secretGenerated
      ? Effect.logWarning("JWT_SECRET_KEY is not set: using a random per-process secret (tokens end with the process)")
      : Effect.void
  )
}) {
  /** AppConfig read from the given variables instead of the environment (tests). */
  static readonly fromEnv = (env: Record<string, string>) =>
    AppConfig.Default.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))
}
