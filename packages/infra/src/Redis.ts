import { ConfigError, Duration, Effect, Layer, Option, Redacted, Runtime, Schema, type Scope } from "effect"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import { AppConfig, type RedisConnection } from "./Config.js"

export class RedisError extends Schema.TaggedError<RedisError>()("RedisError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

const CONNECT_TIMEOUT = Duration.seconds(2)
const COMMAND_TIMEOUT = Duration.millis(1500)

// While Redis is down a command waits for one reconnection attempt (≤ 2 s apart) and then fails,
// instead of queueing forever; a short blip is bridged by the offline queue. The shared connection
// also bounds each command's wait for an answer; dedicated (blocking) connections cannot.
const options = (connection: RedisConnection, name: string, commandTimeout: boolean): RedisOptions => ({
  ...(connection._tag === "Params"
    ? {
        host: connection.host,
        port: connection.port,
        db: connection.db,
        password: Option.map(connection.password, Redacted.value).pipe(Option.getOrUndefined)
      }
    : {}),
  connectionName: name,
  lazyConnect: true,
  connectTimeout: Duration.toMillis(CONNECT_TIMEOUT),
  ...(commandTimeout ? { commandTimeout: Duration.toMillis(COMMAND_TIMEOUT) } : {}),
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  retryStrategy: (times) => Math.min(times * 100, 2000)
})

const connect = (connection: RedisConnection, name: string, commandTimeout: boolean) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const opts = options(connection, name, commandTimeout)
      const client = connection._tag === "Url" ? new IORedis(Redacted.value(connection.url), opts) : new IORedis(opts)
      let lastWarning = 0
      client.on("error", (error: Error) => {
        // at most one warning per 10 s: while Redis is down the reconnect loop fails every ≤ 2 s
        if (Date.now() - lastWarning < 10_000) return
        lastWarning = Date.now()
        Runtime.runFork(runtime)(Effect.logWarning(`redis connection "${name}": ${error.message}`))
      })
      client.on("ready", () => {
        if (lastWarning === 0) return
        lastWarning = 0
        Runtime.runFork(runtime)(Effect.logInfo(`redis connection "${name}" restored`))
      })
      // connect() rejects on the first failure but ioredis keeps retrying: stop it
      yield* Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new RedisError({ message: `cannot connect to Redis (${name})`, cause })
      }).pipe(Effect.tapError(() => Effect.sync(() => client.disconnect())))
      return client
    }),
    // not quit(): it would wait behind a blocking command
    (client) => Effect.sync(() => client.disconnect())
  )

export const make = (connection: RedisConnection) =>
  Effect.gen(function* () {
    const client = yield* connect(connection, "shum", true)
    /** Runs commands on the shared connection, in a client span named `redis <operation>`. */
    const use = <A>(f: (client: IORedis) => Promise<A>, operation = "command"): Effect.Effect<A, RedisError> =>
      Effect.tryPromise({
        try: () => f(client),
        catch: (cause) => new RedisError({ message: "Redis command failed", cause })
      }).pipe(
        Effect.withSpan(`redis ${operation}`, {
          kind: "client",
          attributes: { "db.system.name": "redis" },
          captureStackTrace: false
        })
      )
    const ping = use((c) => c.ping(), "ping").pipe(
      Effect.timeoutFail({
        duration: "1 second",
        onTimeout: () => new RedisError({ message: "Redis did not answer PING" })
      }),
      Effect.asVoid
    )
    /** A connection of its own for blocking commands (XREADGROUP … BLOCK), closed with the scope. */
    const dedicated = (name: string): Effect.Effect<IORedis, RedisError, Scope.Scope> =>
      connect(connection, name, false)
    return { use, ping, dedicated } as const
  })

export class Redis extends Effect.Service<Redis>()("infra/Redis", {
  scoped: Effect.gen(function* () {
    const config = yield* AppConfig
    if (Option.isNone(config.redis)) {
      return yield* Effect.fail(ConfigError.MissingData(["REDIS_HOST"], "set REDIS_HOST or REDIS_URL"))
    }
    return yield* make(config.redis.value)
  }),
  dependencies: [AppConfig.Default]
}) {
  /** The service for explicit connection settings (tests, tools). */
  static readonly layer = (connection: RedisConnection) => Layer.scoped(Redis, Effect.map(make(connection), Redis.make))
}
